"""``require_auth``: scope and step-up requirements for Starlette endpoints.

Starlette's own ``@requires`` answers a missing scope with a plain 403 (or a
redirect); this decorator raises the library's errors instead, which
:class:`~okta_bearer.BearerAuthMiddleware` turns into RFC 6750 / RFC 9470
challenges: 403 ``insufficient_scope`` with every scope, or 401
``insufficient_user_authentication`` with ``acr_values`` / ``max_age``, in a
mounted app or ``Mount`` as on the main app (a WebSocket refused after its
handshake is closed with 1008).
"""

from __future__ import annotations

import functools
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, TypeVar

from starlette.requests import HTTPConnection

from .._errors import ConfigurationError, MissingToken
from .._jwt.claims import Claims
from .._jwt.validation import check_scopes
from .._options import checked_options
from .stepup import StepUpPolicy

__all__ = ["check_auth", "check_claims", "require_auth"]

_F = TypeVar("_F", bound=Callable[..., Awaitable[Any]])


def check_auth(
    connection: HTTPConnection,
    *scopes: str,
    acr_values: Iterable[str] = (),
    max_age: int | None = None,
    now: float | None = None,
) -> Claims:
    """Return the request's verified claims after checking scopes and sign-in strength.

    Raises:
        MissingToken: the request is anonymous (``optional`` middleware mode).
        InsufficientScope: a scope in ``scopes`` is missing (403).
        InsufficientUserAuthentication: ``acr`` not in ``acr_values``, or
            ``auth_time`` missing or older than ``max_age`` seconds (401).
        RuntimeError: ``BearerAuthMiddleware`` is not installed.
    """
    return _check(connection, scopes, StepUpPolicy(acr_values, max_age), now)


def _check(
    connection: HTTPConnection, scopes: tuple[str, ...], policy: StepUpPolicy, now: float | None
) -> Claims:
    scope = connection.scope
    if "user" not in scope:
        raise RuntimeError("require_auth needs BearerAuthMiddleware installed on the app")
    return check_claims(getattr(scope["user"], "claims", None), scopes, policy, now)


def check_claims(
    claims: object, scopes: tuple[str, ...], policy: StepUpPolicy, now: float | None
) -> Claims:
    """``claims`` after checking ``scopes`` and the step-up ``policy`` (every driver's rule).

    Raises:
        MissingToken: ``claims`` is not :class:`Claims` (an anonymous request).
        InsufficientScope: a scope is missing (403).
        InsufficientUserAuthentication: the sign-in is not strong or recent enough (401).
    """
    if not isinstance(claims, Claims):
        raise MissingToken()
    if scopes:
        check_scopes(claims, scopes)
    if policy:
        policy.check(claims.raw, time.time() if now is None else now, scopes)
    return claims


@checked_options
def require_auth(
    *scopes: str,
    acr_values: Iterable[str] = (),
    max_age: int | None = None,
    clock: Callable[[], float] = time.time,
) -> Callable[[_F], _F]:
    """Decorate a Starlette endpoint so it runs only for a strong enough token.

    The endpoint's first argument that is a ``Request`` or ``WebSocket``
    (``HTTPConnection``) is checked with :func:`check_auth`; the requirement is
    validated once, when the decorator is applied.  ``clock`` (seconds since
    the epoch) is injectable for tests, as the verifier's.

    Raises:
        ConfigurationError: ``acr_values`` or ``max_age`` is invalid, or a
            scope is not a string.
    """
    if not all(isinstance(s, str) and s for s in scopes):
        raise ConfigurationError("require_auth scopes must be non-empty strings")
    policy = StepUpPolicy(acr_values, max_age)

    def decorate(endpoint: _F) -> _F:
        @functools.wraps(endpoint)
        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            connection = next(
                (a for a in (*args, *kwargs.values()) if isinstance(a, HTTPConnection)), None
            )
            if connection is None:
                raise RuntimeError("require_auth needs the endpoint to take a Request")
            _check(connection, scopes, policy, clock())
            return await endpoint(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate
