"""View decorators: scopes and step-up (RFC 9470) per view, sync or async.

::

    @require_scopes("items:read")
    def items(request): ...

    @require_auth("payments:write", acr_values=["urn:okta:loa:2fa:any"], max_age=300)
    async def pay(request): ...

For a class-based view, ``method_decorator(require_scopes("items:write"),
name="post")``.  A refusal is the middleware's answer: 403
``insufficient_scope`` naming every scope, or 401
``insufficient_user_authentication`` with ``acr_values`` / ``max_age``, so
the client can ask for a new sign-in (RFC 9470 section 3).
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.http import HttpRequest, HttpResponse

from .._errors import BearerError, ConfigurationError
from .._http.require import check_claims
from .._http.stepup import StepUpPolicy
from .._options import checked_options
from ._request import judged_by_middleware, refusal

__all__ = ["require_auth", "require_scopes"]

_V = TypeVar("_V", bound=Callable[..., Any])


@checked_options
def require_auth(
    *scopes: str,
    acr_values: Iterable[str] = (),
    max_age: int | None = None,
    clock: Callable[[], float] = time.time,
) -> Callable[[_V], _V]:
    """Decorate a view so it runs only for a token with ``scopes`` and a strong enough sign-in.

    ``acr_values``: the token's ``acr`` must be one of them; ``max_age``: its
    ``auth_time`` at most that many seconds old.  ``clock`` (seconds since the
    epoch) is injectable for tests.  The requirement is checked once, here.

    Raises:
        ConfigurationError: ``acr_values`` or ``max_age`` is invalid, or a
            scope is not a non-empty string.
        RuntimeError: at request time, if ``BearerAuthMiddleware`` is not in
            ``MIDDLEWARE`` (the view would otherwise run unauthenticated).
    """
    if not all(isinstance(s, str) and s for s in scopes):
        raise ConfigurationError("require_auth scopes must be non-empty strings")
    policy = StepUpPolicy(acr_values, max_age)

    def refused(request: HttpRequest) -> HttpResponse | None:
        if judged_by_middleware(request) is None:
            raise RuntimeError(
                "okta_bearer: require_scopes/require_auth need "
                "'okta_bearer.django.BearerAuthMiddleware' in settings.MIDDLEWARE"
            )
        try:
            check_claims(getattr(request, "claims", None), scopes, policy, clock())
        except BearerError as error:
            return refusal(request, error)
        return None

    def decorate(view: _V) -> _V:
        if iscoroutinefunction(view):

            @functools.wraps(view)
            async def async_view(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
                return refused(request) or await view(request, *args, **kwargs)

            return markcoroutinefunction(async_view)  # type: ignore[return-value]

        @functools.wraps(view)
        def sync_view(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
            return refused(request) or view(request, *args, **kwargs)

        return sync_view  # type: ignore[return-value]

    return decorate


def require_scopes(*scopes: str) -> Callable[[_V], _V]:
    """Decorate a view so it runs only for a token granting every scope in ``scopes``.

    A missing scope is 403 ``insufficient_scope`` naming them all; an
    anonymous request (``"optional": True``, or a public path) is 401.

    Raises:
        ConfigurationError: a scope is not a non-empty string.
    """
    return require_auth(*scopes)
