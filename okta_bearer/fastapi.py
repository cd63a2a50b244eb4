"""FastAPI integration: install the middleware, get claims by dependency injection, document it.

:func:`protect` installs :class:`~okta_bearer.BearerAuthMiddleware` with the
app's own documentation paths public, and documents the refusals in OpenAPI::

    protect(app, issuer="https://dev-123456.okta.com/oauth2/default", audience="api://default")

    @app.get("/items")
    async def items(claims: Claims = require_scopes("items:read")) -> dict: ...

``Security(get_claims, scopes=["items:read"])`` is the same thing spelled the
FastAPI way.  A missing scope raises :class:`~okta_bearer.InsufficientScope`,
which the middleware turns into the same RFC 6750 403 it sends itself.

Refusals stay exceptions, answered by the middleware wherever the route lives:
the main app, an included router, a FastAPI or Starlette app mounted at any
depth.  That is the one place that sees every refusal (ours, and your own
``check_auth``) and holds what the answer needs (realm, ``on_error`` body,
DPoP scheme, metrics, log).  A dependency can only raise, a route class sees
only its own routes, and exception handlers would have to be registered on
every mounted app, including those mounted later or behind middleware.  A
mounted app's own error handling answers a refusal with a 500 before
re-raising it, so the middleware holds that answer back and sends the
refusal's instead (see :class:`~okta_bearer.BearerAuthMiddleware`).

Routes declared after :func:`protect` are :class:`OktaBearerRoute` routes: they
check the scopes their ``require_scopes`` parameters declare before FastAPI
resolves anything, and FastAPI does not resolve those dependencies per request
(the middleware has verified the token already), so a scope-checked route costs
less than one do-nothing dependency.  Routes declared before, or on an
``APIRouter`` without ``route_class=OktaBearerRoute``, are checked the same way
by FastAPI's dependency machinery: the same answers, only slower.
"""

from __future__ import annotations

import copy
import functools
import inspect
import threading
import time
from collections.abc import Callable, Coroutine, Iterable, Mapping
from typing import Any

try:
    import fastapi.routing
    from fastapi import Depends, FastAPI, params
    from fastapi.openapi.models import OAuthFlowImplicit, OAuthFlows
    from fastapi.requests import HTTPConnection, Request
    from fastapi.responses import Response
    from fastapi.routing import APIRoute
    from fastapi.security import OAuth2, SecurityScopes
except ImportError as exc:  # pragma: no cover - exercised in a subprocess test
    raise ImportError(
        "okta_bearer.fastapi needs FastAPI: pip install 'okta-bearer[fastapi]'"
    ) from exc

from ._dpop.settings import DPoPSettings
from ._errors import ConfigurationError, MissingToken
from ._events import Events
from ._http.metadata import ProtectedResource
from ._http.openapi import document_dpop, document_refusals
from ._http.stepup import StepUpPolicy
from ._jwt.claims import Claims
from ._jwt.validation import check_scopes
from ._options import checked_options
from ._protocols import Verifier
from .middleware import BearerAuthMiddleware, BearerUser, OnError, StartupCheck

__all__ = [
    "OktaBearerRoute",
    "OktaBearerScheme",
    "configure_openapi",
    "get_claims",
    "protect",
    "require_auth",
    "require_scopes",
]

SCHEME_NAME = "OktaBearer"


@checked_options
class OktaBearerScheme(OAuth2):
    """The OAuth2 security scheme that is also the claims dependency.

    FastAPI lists it in the OpenAPI document (with each route's scopes) because
    it is a security scheme, and calls it to resolve the dependency: one
    dependency per route instead of a scheme plus a function, which halves
    FastAPI's per-request work for it.  Use the module-level ``get_claims``.
    """

    async def __call__(  # type: ignore[override]
        self, connection: HTTPConnection, security_scopes: SecurityScopes
    ) -> Claims:
        """The verified claims of the request's token.

        Raises:
            MissingToken: the request is anonymous (``optional`` middleware mode).
            InsufficientScope: a scope declared with ``Security(..., scopes=...)``
                is missing.
            RuntimeError: ``BearerAuthMiddleware`` is not installed on the app.
        """
        claims = _claims_of(connection.scope)
        if security_scopes.scopes:
            check_scopes(claims, security_scopes.scopes)
        return claims


def _claims_of(scope: Mapping[str, Any]) -> Claims:
    # The one rule the scheme and OktaBearerRoute share: the middleware's
    # verdict (scope["user"]), never a token of our own reading.
    if "user" not in scope:
        raise RuntimeError("okta_bearer.fastapi needs BearerAuthMiddleware installed on the app")
    user = scope["user"]
    if not isinstance(user, BearerUser):
        raise MissingToken()
    claims: Claims = user.claims
    return claims


#: The claims dependency: ``Depends(get_claims)`` or ``Security(get_claims,
#: scopes=[...])``.  It is the app's OAuth2 security scheme too;
#: :func:`configure_openapi` fills in the issuer's ``/v1/authorize`` URL and scopes.
get_claims = OktaBearerScheme(
    flows=OAuthFlows(implicit=OAuthFlowImplicit(authorizationUrl="/v1/authorize", scopes={})),
    scheme_name=SCHEME_NAME,
    description="Okta access token (Authorization: Bearer)",
    auto_error=False,
)


# FastAPI >= 0.121 works out on every request whether a dependency is a
# generator, to find its "scope" (when its teardown runs), unless the scope
# is declared: about 10k instructions per request, an eighth of what one
# dependency costs.  Ours returns a value and has no teardown, so "request"
# changes nothing else (a "function" scope could not sit under a generator).
_DECLARED_SCOPE: dict[str, Any] = (
    {"scope": "request"} if "scope" in inspect.signature(params.Security).parameters else {}
)


@checked_options
def require_scopes(*scopes: str) -> Any:
    """A dependency returning the claims after checking the token holds every one of ``scopes``.

    Use as a parameter default (``claims: Claims = require_scopes("a")``) or in
    ``dependencies=[require_scopes("a")]``; the scopes appear in the OpenAPI document.
    It is ``Security(get_claims, scopes=[...])``, declared so that FastAPI
    resolves it with as little work per request as a do-nothing dependency.
    """
    return params.Security(dependency=get_claims, scopes=list(scopes), **_DECLARED_SCOPE)


# --- RFC 9470 step-up (require_auth) ---
@checked_options
def require_auth(
    *scopes: str,
    acr_values: Iterable[str] = (),
    max_age: int | None = None,
    clock: Callable[[], float] = time.time,
) -> Any:
    """A dependency returning the claims after checking scopes and the sign-in behind the token.

    ``acr_values``: the token's ``acr`` must be one of them; ``max_age``: its
    ``auth_time`` must be at most that many seconds old (a token without one
    fails).  Otherwise :class:`~okta_bearer.InsufficientUserAuthentication` is
    raised and the middleware answers 401 ``insufficient_user_authentication``
    with ``acr_values``/``max_age`` in the challenge (RFC 9470 section 3).
    Scopes are checked first (403), as with :func:`require_scopes`.  ``clock``
    is injectable for tests, as the verifier's.

    Raises:
        ConfigurationError: at declaration, for invalid ``acr_values``/``max_age``.
    """
    if not all(isinstance(s, str) and s for s in scopes):
        raise ConfigurationError("require_auth scopes must be non-empty strings")
    policy = StepUpPolicy(acr_values, max_age)

    async def step_up(claims: Claims = require_scopes(*scopes)) -> Claims:
        if policy:
            policy.check(claims.raw, clock(), scopes)
        return claims

    return Depends(step_up)


# --- end RFC 9470 ---


# --- Scope checks without a dependency per request (OktaBearerRoute) ---
Handler = Callable[[Request], Coroutine[Any, Any, Response]]

#: The parameter name the fast path asks FastAPI to fill with the request,
#: when the endpoint takes no ``Request`` of its own.
_REQUEST_PARAM = "_okta_bearer_request"

# Recent FastAPI (0.165) builds an included router's handlers per inclusion,
# from a context object it names in this variable while calling
# get_route_handler; older ones from the route itself.  Private: absent, the
# route is the source (a wrong guess only costs speed: FastAPI then resolves
# the claims dependency itself, after the route's own check).
_INCLUSION = getattr(fastapi.routing, "_effective_route_context_var", None)
_LENDING = threading.Lock()


def _is_claims_check(sub: Any) -> bool:
    # Ours exactly: a subclass with its own __call__ keeps FastAPI's path.
    call = sub.call
    return (
        isinstance(call, OktaBearerScheme)
        and type(call).__call__ is OktaBearerScheme.__call__
        and not sub.dependencies
    )


def _declared_scopes(sub: Any) -> tuple[str, ...] | None:
    # What FastAPI would pass as SecurityScopes: the parents' scopes, then the
    # dependency's own (recent FastAPI: parent_/own_oauth_scopes; older: one
    # security_scopes list).  None when neither is there: FastAPI's path.
    if hasattr(sub, "own_oauth_scopes"):
        found: list[str] = []
        for scope in (*(sub.parent_oauth_scopes or ()), *(sub.own_oauth_scopes or ())):
            if scope not in found:
                found.append(scope)
        return tuple(found)
    scopes = getattr(sub, "security_scopes", None)
    return None if scopes is None else tuple(scopes)


def _fast_dependant(dependant: Any) -> tuple[Any, tuple[tuple[str, ...], ...]] | None:
    """The route's dependant without its top-level claims checks, and their scopes.

    ``None`` when there is nothing to take out or the endpoint is not a plain
    coroutine function (sync endpoints and streams keep FastAPI's path).
    """
    endpoint = dependant.call
    ours = [sub for sub in dependant.dependencies if _is_claims_check(sub)]
    if not ours or not inspect.iscoroutinefunction(endpoint):
        return None
    checks = tuple(_declared_scopes(sub) for sub in ours)
    request_name = dependant.request_param_name or _REQUEST_PARAM
    if any(c is None for c in checks) or (
        dependant.request_param_name is None
        and _REQUEST_PARAM in inspect.signature(endpoint).parameters
    ):
        return None
    names = tuple(sub.name for sub in ours if sub.name is not None)
    own_request = dependant.request_param_name is None

    @functools.wraps(endpoint)
    async def with_claims(**values: Any) -> Any:
        request = values.pop(request_name) if own_request else values[request_name]
        # The route's handler has checked the claims before FastAPI ran.
        claims = request.scope["user"].claims
        for name in names:
            values[name] = claims
        return await endpoint(**values)

    fast = copy.copy(dependant)
    fast.dependencies = [sub for sub in dependant.dependencies if not _is_claims_check(sub)]
    fast.request_param_name = request_name
    fast.call = with_claims
    return fast, tuple(c for c in checks if c)


@checked_options
class OktaBearerRoute(APIRoute):
    """An ``APIRoute`` that checks its ``require_scopes`` before FastAPI resolves anything.

    The route's top-level claims dependencies (``require_scopes``,
    ``Depends(get_claims)``, ``Security(get_claims, scopes=...)``, as
    parameters or in ``dependencies=``, the router's included) are not
    resolved by FastAPI per request: the route checks each one's scopes, in
    order, against the claims the middleware verified, then hands the claims
    to the parameters that asked for them.  The refusals are the ones the
    dependency raises (403 ``insufficient_scope`` naming the scopes, 401 for an
    anonymous caller in ``optional`` mode), raised before any other dependency
    of the route runs, and the OpenAPI document is unchanged.

    :func:`protect` makes it the app's ``route_class``; give it to an
    ``APIRouter`` as ``APIRouter(route_class=OktaBearerRoute)``.  A dependency
    override of ``get_claims`` (tests) makes the route resolve it the FastAPI
    way again; sync and streaming endpoints and nested claims dependencies are
    always resolved the FastAPI way.
    """

    def get_route_handler(self) -> Handler:
        """FastAPI's handler, behind the route's claims checks (see the class)."""
        source: Any = _INCLUSION.get() if _INCLUSION is not None else None
        if source is None or getattr(source, "original_route", None) is not self:
            source = self
        # FastAPI builds the handler from source.dependant, so the fast one is
        # lent for that call; under a lock, so that no other build reads the
        # lent one as the route's own (its handler would lack the checks).
        with _LENDING:
            original = source.dependant
            slow = super().get_route_handler()
            planned = _fast_dependant(original)
            if planned is None:
                return slow
            source.dependant, checks = planned
            try:
                fast = super().get_route_handler()
            finally:
                source.dependant = original
        provider = source.dependency_overrides_provider
        calls = frozenset(sub.call for sub in original.dependencies if _is_claims_check(sub))

        async def handler(request: Request) -> Response:
            overrides = getattr(provider, "dependency_overrides", None)
            if overrides and not calls.isdisjoint(overrides):
                return await slow(request)
            claims = _claims_of(request.scope)
            for scopes in checks:
                check_scopes(claims, scopes)
            return await fast(request)

        return handler


# --- end OktaBearerRoute ---


@checked_options
def configure_openapi(
    app: FastAPI,
    *,
    issuer: str,
    scopes: Mapping[str, str],
    client_id: str | None = None,
) -> None:
    """Point the app's OpenAPI scheme at ``{issuer}/v1/authorize`` (implicit flow).

    Swagger UI's *Authorize* button then fetches a token from the issuer;
    ``client_id`` pre-fills its client id.  ``scopes`` maps scope names to
    descriptions shown in the dialog, none of them ticked: the user asks for
    what the call needs (least privilege), not for every scope the API knows.
    """
    build = app.openapi
    authorize = issuer.rstrip("/") + "/v1/authorize"

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = build()
        schemes = schema.setdefault("components", {}).setdefault("securitySchemes", {})
        scheme = schemes.setdefault(SCHEME_NAME, {"type": "oauth2"})
        scheme["flows"] = {"implicit": {"authorizationUrl": authorize, "scopes": dict(scopes)}}
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
    app.openapi_schema = None
    if client_id is not None:
        init = dict(app.swagger_ui_init_oauth or {})
        init.setdefault("clientId", client_id)
        app.swagger_ui_init_oauth = init


def _docs_paths(app: FastAPI) -> list[str]:
    urls = (app.docs_url, app.redoc_url, app.openapi_url)
    paths = [url for url in urls if url]
    if app.docs_url and app.swagger_ui_oauth2_redirect_url:
        paths.append(app.swagger_ui_oauth2_redirect_url)
    return paths


@checked_options
def protect(
    app: FastAPI,
    verifier: Verifier | None = None,
    *,
    issuer: str | None = None,
    audience: str | Iterable[str] | None = None,
    public_paths: Iterable[str] = (),
    optional: bool = False,
    realm: str | None = "api",
    required_scopes: Iterable[str] = (),
    error_details: bool = True,
    resource: str | ProtectedResource | None = None,
    on_error: OnError | None = None,
    dpop: DPoPSettings | None = None,
    events: Events | None = None,
    startup_check: StartupCheck = "warn",
) -> BearerAuthMiddleware:
    """Install :class:`~okta_bearer.BearerAuthMiddleware` on ``app``, docs kept public.

    Takes the middleware's options.  The app's own ``docs_url``,
    ``redoc_url``, ``openapi_url`` and ``swagger_ui_oauth2_redirect_url`` are
    added to ``public_paths``, so the documentation keeps loading; every other
    path needs a token.  The OpenAPI document then lists, on each protected
    operation, the security requirement and the 400/401/403/503 answers with
    their RFC 6750 body; with ``dpop`` in ``allowed`` or ``required`` mode
    it also declares the ``DPoP`` HTTP authentication scheme (RFC 9449) as
    an alternative requirement.

    Call it once, before the app serves, and best before declaring routes:
    the app's routes declared after it are :class:`OktaBearerRoute` routes
    (unless the app has a ``route_class`` of its own), whose ``require_scopes``
    cost no FastAPI dependency per request.  Add CORS middleware after it (so
    CORS wraps it and answers preflights).

    Returns:
        The middleware (``.verifier`` is the verifier it uses).

    Raises:
        ConfigurationError: an option is wrong, naming it, right here rather
            than when the server starts.
    """
    middleware = BearerAuthMiddleware(
        _not_installed,
        verifier,
        issuer=issuer,
        audience=audience,
        public_paths=[*public_paths, *_docs_paths(app)],
        optional=optional,
        realm=realm,
        required_scopes=required_scopes,
        error_details=error_details,
        resource=resource,
        on_error=on_error,
        dpop=dpop,
        events=events,
        startup_check=startup_check,
    )
    if middleware._failed is not None:  # built inside an event loop: raise anyway
        raise middleware._failed

    def install(inner: Any) -> BearerAuthMiddleware:
        middleware.app = inner
        return middleware

    app.add_middleware(install)
    if app.router.route_class is APIRoute:
        app.router.route_class = OktaBearerRoute
    build = app.openapi
    scheme = get_claims.model.model_dump(mode="json", by_alias=True, exclude_none=True)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = build()
        document_refusals(
            schema,
            scheme_name=SCHEME_NAME,
            scheme=scheme,
            is_public=middleware.is_public,
            optional=middleware.optional,
            required_scopes=middleware.required_scopes,
        )
        if dpop is not None and dpop.mode != "bearer":
            document_dpop(schema, scheme_name=SCHEME_NAME, algorithms=dpop.algorithms)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
    app.openapi_schema = None
    return middleware


async def _not_installed(scope: Any, receive: Any, send: Any) -> None:
    raise RuntimeError("okta_bearer.fastapi.protect: the middleware was not installed")
