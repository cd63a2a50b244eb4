"""Django integration: a middleware, system checks and view decorators (sync and async views).

Install with ``pip install 'okta-bearer[django]'`` (``[drf]`` for Django REST
framework), then in ``settings.py``::

    INSTALLED_APPS = [..., "okta_bearer.django"]      # system checks
    MIDDLEWARE = [..., "okta_bearer.django.BearerAuthMiddleware"]
    OKTA_BEARER = {
        "issuer": "https://dev-123456.okta.com/oauth2/default",
        "audience": "api://default",
        "public_paths": ["/health"],
    }

and in views::

    from okta_bearer.django import require_scopes

    @require_scopes("items:read")
    def items(request):
        return JsonResponse({"sub": request.claims.sub})

``OKTA_BEARER`` takes the options of :class:`~okta_bearer.BearerAuthMiddleware`
and :class:`~okta_bearer.TokenVerifier` by the same names (``dpop`` and
``keys`` also as dicts, ``store`` as a Redis URL); ``manage.py check``
reports a mistake as ``okta_bearer.E001``.  Django REST framework classes
live in :mod:`okta_bearer.django.drf`.
"""

from __future__ import annotations

try:
    import django  # noqa: F401 - only to say which extra is missing
except ImportError as exc:  # pragma: no cover - exercised in a subprocess test
    raise ImportError("okta_bearer.django needs Django: pip install 'okta-bearer[django]'") from exc

from ._testing import use_local_issuer
from .decorators import require_auth, require_scopes
from .middleware import BearerAuthMiddleware
from .user import TokenUser

__all__ = [
    "BearerAuthMiddleware",
    "TokenUser",
    "require_auth",
    "require_scopes",
    "use_local_issuer",
]
