"""The Django apps the Django section serves under gunicorn (``BENCH_KIND``, ``BENCH_SPEC``).

A project configured in code, one kind per gunicorn:

* ``django``: a plain Django view, no middleware; ``django+okta_bearer``: the
  same view behind ``BearerAuthMiddleware`` (it reads ``request.claims``);
  ``django+scopes``: also ``@require_scopes("items:read")``;
* ``drf``: a DRF ``APIView`` without authentication (``AllowAny``);
  ``drf+okta_bearer``: the same view with ``BearerAuthentication`` and
  ``HasScopes`` (``items:read``), no middleware.

The spec file holds the issuer, audience, ``kid`` and PEM private key of the
parent's ``LocalIssuer`` (as in ``benchmarks/wsgi_app.py``), so tokens the
parent mints verify here; keys come through the issuer's in-memory
transport, fetched at start-up (``startup_check``).
"""

from __future__ import annotations

import json
import os
from typing import Any, ClassVar

import django
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.urls import path

from okta_bearer.testing import LocalIssuer, SigningKey

from .wsgi_app import PATH

KINDS = ("django", "django+okta_bearer", "django+scopes", "drf", "drf+okta_bearer")
KIND = os.environ.get("BENCH_KIND", "django")


def _options(spec_file: str) -> dict[str, Any]:
    # OKTA_BEARER for the parent's issuer, its keys served in memory.
    with open(spec_file, encoding="utf-8") as handle:
        spec = json.load(handle)
    issuer = LocalIssuer(spec["issuer"], spec["audience"])
    private_key = load_pem_private_key(spec["pem"].encode(), password=None)
    issuer.keys = [SigningKey(spec["kid"], "RS256", private_key)]
    return {
        "issuer": issuer.issuer,
        "audience": issuer.audience,
        "transport": issuer.transport(),
        "algorithms": ("RS256",),
    }


def configure(kind: str, spec_file: str) -> None:
    """Django settings for ``kind`` (see the module docstring), then ``django.setup()``."""
    protected = kind not in ("django", "drf")
    settings.configure(
        DEBUG=False,
        SECRET_KEY="benchmark-only",  # noqa: S106 - no sessions or signing here
        ALLOWED_HOSTS=["127.0.0.1"],
        ROOT_URLCONF=__name__,
        # The app (system checks, start-up check) needs OKTA_BEARER: protected kinds only.
        INSTALLED_APPS=["rest_framework", *(["okta_bearer.django"] if protected else [])],
        MIDDLEWARE=(
            ["okta_bearer.django.BearerAuthMiddleware"] if kind.startswith("django+") else []
        ),
        DATABASES={},
        USE_TZ=True,
        OKTA_BEARER=_options(spec_file) if protected else None,
        REST_FRAMEWORK={
            "DEFAULT_AUTHENTICATION_CLASSES": [],
            "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.AllowAny"],
            "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
            "UNAUTHENTICATED_USER": None,
        },
        LOGGING_CONFIG=None,
    )
    django.setup()


configure(KIND, os.environ.get("BENCH_SPEC", ""))

# Imported once Django is set up (DRF reads its settings at import time).
from django.core.wsgi import get_wsgi_application  # noqa: E402
from rest_framework.request import Request  # noqa: E402
from rest_framework.response import Response  # noqa: E402
from rest_framework.views import APIView  # noqa: E402

from okta_bearer.django import require_scopes  # noqa: E402
from okta_bearer.django.drf import BearerAuthentication, HasScopes  # noqa: E402


def items(request: HttpRequest) -> JsonResponse:
    """The plain Django view: the caller from the middleware's claims, if any."""
    claims = getattr(request, "claims", None)
    return JsonResponse({"items": ["first item"], "caller": claims.sub if claims else "anonymous"})


class Items(APIView):
    """The DRF view, unprotected."""

    def get(self, request: Request) -> Response:
        """The items and the caller."""
        auth: Any = request.auth
        return Response({"items": ["first item"], "caller": auth.sub if auth else "anonymous"})


class ProtectedItems(Items):
    """The same DRF view, authenticated by okta_bearer, needing ``items:read``."""

    authentication_classes: ClassVar = [BearerAuthentication]
    permission_classes: ClassVar = [HasScopes]
    required_scopes: ClassVar = ["items:read"]


_VIEWS: dict[str, Any] = {
    "django": items,
    "django+okta_bearer": items,
    "django+scopes": require_scopes("items:read")(items),
    "drf": Items.as_view(),
    "drf+okta_bearer": ProtectedItems.as_view(),
}
urlpatterns = [path(PATH.lstrip("/"), _VIEWS[KIND])]

app = get_wsgi_application()
