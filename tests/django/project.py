"""The Django project the tests drive: settings configured in code (no pytest-django).

:func:`configure` is idempotent and safe to call from any test module that
needs Django (this folder's conftest, the web-driver registry).
"""

from __future__ import annotations

from typing import Any

from okta_bearer.testing import LocalIssuer

#: The issuer the default settings trust; tests swap in a fresh one per test.
ISSUER = LocalIssuer()

REST_FRAMEWORK: dict[str, Any] = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["okta_bearer.django.drf.BearerAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["okta_bearer.django.drf.HasScopes"],
    "EXCEPTION_HANDLER": "okta_bearer.django.drf.exception_handler",
    "UNAUTHENTICATED_USER": None,
}


def base_options(issuer: LocalIssuer = ISSUER, **options: Any) -> dict[str, Any]:
    """``OKTA_BEARER`` for ``issuer`` (its in-memory transport), with ``options`` on top."""
    return {
        "issuer": issuer.issuer,
        "audience": issuer.audience,
        "transport": issuer.transport(),
        "public_paths": ["/health", "/public/"],
        **options,
    }


def configure() -> None:
    """Configure Django settings for the test project once per process, then ``django.setup()``."""
    import django
    from django.conf import settings

    if settings.configured:
        return
    settings.configure(
        DEBUG=False,
        SECRET_KEY="okta-bearer-tests",
        ALLOWED_HOSTS=["*"],
        ROOT_URLCONF="tests.django.urls",
        INSTALLED_APPS=["rest_framework", "okta_bearer.django"],
        MIDDLEWARE=["okta_bearer.django.BearerAuthMiddleware"],
        DATABASES={},
        USE_TZ=True,
        OKTA_BEARER=base_options(),
        REST_FRAMEWORK=REST_FRAMEWORK,
        LOGGING_CONFIG=None,
    )
    django.setup()
