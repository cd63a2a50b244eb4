"""Django system checks: ``manage.py check`` names a configuration mistake before any request.

* ``okta_bearer.E001``: ``settings.OKTA_BEARER`` is missing, or an option in
  it is wrong or unknown.  The message is the one the library's
  :class:`~okta_bearer.ConfigurationError` gives (a misspelt key names the key
  meant); the same error stops a gunicorn worker that loads the middleware.
* ``okta_bearer.W001``: a CORS middleware comes after ``BearerAuthMiddleware``
  in ``MIDDLEWARE``, so browsers' preflight requests (``OPTIONS``, never
  carrying a token) are refused with 401 before CORS can answer them.
* ``okta_bearer.W002``: Django REST framework authenticates with
  ``BearerAuthentication`` but lets anonymous requests in
  (``DEFAULT_PERMISSION_CLASSES`` is DRF's ``AllowAny``, or empty) and the
  middleware is not installed: a view without ``permission_classes`` serves requests
  without a token.
* ``okta_bearer.W003``: Django's ``SecurityMiddleware`` comes after
  ``BearerAuthMiddleware``: a refusal skips its HTTPS redirect and its
  headers (``Strict-Transport-Security``...).

Registered when ``"okta_bearer.django"`` is in ``INSTALLED_APPS``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.apps import AppConfig
from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning, register

from .._errors import ConfigurationError
from . import _conf

__all__ = ["check_drf_permissions", "check_middleware_order", "check_settings"]

MIDDLEWARE = "okta_bearer.django.BearerAuthMiddleware"
_ALIASES = frozenset({MIDDLEWARE, "okta_bearer.django.middleware.BearerAuthMiddleware"})
_AUTHENTICATION = "okta_bearer.django.drf.BearerAuthentication"
_SECURITY = "django.middleware.security.SecurityMiddleware"
_ALLOW_ANY = "rest_framework.permissions.AllowAny"


def _dotted(entry: object) -> str:
    # DRF's settings take a dotted path or the class itself.
    if isinstance(entry, type):
        return f"{entry.__module__}.{entry.__qualname__}"
    return str(entry)


@register("okta_bearer", "security")
def check_settings(app_configs: Sequence[AppConfig] | None, **kwargs: Any) -> list[CheckMessage]:
    """``okta_bearer.E001`` when the gate cannot be built from ``settings.OKTA_BEARER``."""
    try:
        _conf.gate()
    except ConfigurationError as error:
        return [
            Error(
                str(error),
                hint="The keys are BearerAuthMiddleware's and TokenVerifier's options "
                "(docs: guides/django.md).",
                obj=f"settings.{_conf.SETTING}",
                id="okta_bearer.E001",
            )
        ]
    return []


def _middleware() -> list[str]:
    return [str(m) for m in getattr(settings, "MIDDLEWARE", None) or ()]


@register("okta_bearer", "security")
def check_middleware_order(
    app_configs: Sequence[AppConfig] | None, **kwargs: Any
) -> list[CheckMessage]:
    """``okta_bearer.W001`` (W003) when a CORS (Django's security) middleware runs after ours."""
    listed = _middleware()
    ours = next((i for i, m in enumerate(listed) if m in _ALIASES), None)
    if ours is None:
        return []
    late = [m for m in listed[ours + 1 :] if "cors" in m.lower()]
    found: list[CheckMessage] = [
        Warning(
            f"{name} comes after {MIDDLEWARE} in MIDDLEWARE: browsers' CORS preflight "
            "requests carry no token and are refused with 401 before it answers them",
            hint=f"Move {name} above {MIDDLEWARE}.",
            obj="settings.MIDDLEWARE",
            id="okta_bearer.W001",
        )
        for name in late
    ]
    if _SECURITY in listed[ours + 1 :]:
        found.append(
            Warning(
                f"{_SECURITY} comes after {MIDDLEWARE} in MIDDLEWARE: refusals skip "
                "its HTTPS redirect (SECURE_SSL_REDIRECT) and go out without its headers "
                "(Strict-Transport-Security, X-Content-Type-Options)",
                hint=f"Move {_SECURITY} above {MIDDLEWARE}.",
                obj="settings.MIDDLEWARE",
                id="okta_bearer.W003",
            )
        )
    return found


@register("okta_bearer", "security")
def check_drf_permissions(
    app_configs: Sequence[AppConfig] | None, **kwargs: Any
) -> list[CheckMessage]:
    """``okta_bearer.W002`` when DRF would let tokenless requests reach views by default."""
    rest: dict[str, Any] = getattr(settings, "REST_FRAMEWORK", None) or {}
    authentication = [_dotted(c) for c in rest.get("DEFAULT_AUTHENTICATION_CLASSES", ())]
    permissions = rest.get("DEFAULT_PERMISSION_CLASSES", (_ALLOW_ANY,))
    if _AUTHENTICATION not in authentication or any(m in _ALIASES for m in _middleware()):
        return []
    # No permission class at all lets everyone in, as AllowAny does.
    if any(_dotted(p) != _ALLOW_ANY for p in permissions):
        return []
    return [
        Warning(
            "DRF authenticates with BearerAuthentication but DEFAULT_PERMISSION_CLASSES "
            "is AllowAny or empty: a view without permission_classes serves requests "
            "without a token",
            hint="Set DEFAULT_PERMISSION_CLASSES to "
            "['okta_bearer.django.drf.HasScopes'] (or IsAuthenticated), or add "
            f"{MIDDLEWARE} to MIDDLEWARE to refuse tokenless requests at the edge.",
            obj="settings.REST_FRAMEWORK",
            id="okta_bearer.W002",
        )
    ]
