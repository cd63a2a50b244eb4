"""Settings of the example project: okta_bearer configured from ``OKTA_BEARER``.

The environment chooses the issuer (the dev issuer on 127.0.0.1:9400 by
default) and, with ``REDIS_URL``, the store every worker shares: key sets
and DPoP replay marks, so a proof replayed to another gunicorn worker is
refused too.
"""

from __future__ import annotations

import os
from typing import Any

_PACKAGE = __name__.rpartition(".")[0]

DEBUG = os.environ.get("DJANGO_DEBUG") == "1"
# A fixed key is fine here: the example has no sessions, forms or signed cookies.
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "example-only-not-a-secret")
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "testserver"]
ROOT_URLCONF = f"{_PACKAGE}.urls"
WSGI_APPLICATION = f"{_PACKAGE}.wsgi.application"
DATABASES: dict[str, Any] = {}  # tokens, not sessions: no database needed
USE_TZ = True

INSTALLED_APPS = [
    "rest_framework",
    "okta_bearer.django",  # system checks: `manage.py check` names a wrong option
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "okta_bearer.django.BearerAuthMiddleware",  # every request needs a token...
    "django.middleware.common.CommonMiddleware",
]

OKTA_BEARER: dict[str, Any] = {
    "issuer": os.environ.get("OKTA_ISSUER", "http://127.0.0.1:9400/oauth2/default"),
    "audience": os.environ.get("OKTA_AUDIENCE", "api://default"),
    "public_paths": ["/health"],  # ...except these
    # Bearer tokens and DPoP-bound ones (RFC 9449), proofs checked for replay.
    "dpop": {"mode": "allowed"},
    # When a server starts (not for manage.py check/migrate or tests): fetch the
    # issuer's metadata and keys, log a problem at ERROR ("exit": stop instead).
    "startup_check": os.environ.get("OKTA_STARTUP_CHECK", "warn"),
}
if os.environ.get("REDIS_URL"):
    OKTA_BEARER["store"] = os.environ["REDIS_URL"]

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["okta_bearer.django.drf.BearerAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["okta_bearer.django.drf.HasScopes"],
    "EXCEPTION_HANDLER": "okta_bearer.django.drf.exception_handler",
    "UNAUTHENTICATED_USER": None,  # no django.contrib.auth in this project
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    # Each refusal, with its reason (never the token).
    "loggers": {"okta_bearer": {"handlers": ["console"], "level": "INFO"}},
}
