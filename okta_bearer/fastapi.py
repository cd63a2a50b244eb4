"""FastAPI integration: install the middleware, get claims by dependency injection, document it.

:func:`protect` installs :class:`~okta_bearer.BearerAuthMiddleware` with the
app's own documentation paths public, and documents the refusals in OpenAPI::

    protect(app, issuer="https://dev-123456.okta.com/oauth2/default", audience="api://default")

    @app.get("/items")
    async def items(claims: Claims = require_scopes("items:read")) -> dict: ...

``Security(get_claims, scopes=["items:read"])`` is the same thing spelled the
FastAPI way.  A missing scope raises :class:`~okta_bearer.InsufficientScope`,
which the middleware turns into the same RFC 6750 403 it sends itself.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

try:
    from fastapi import Depends, FastAPI, Security
    from fastapi.openapi.models import OAuthFlowImplicit, OAuthFlows
    from fastapi.requests import HTTPConnection
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
        scope = connection.scope
        if "user" not in scope:
            raise RuntimeError(
                "okta_bearer.fastapi needs BearerAuthMiddleware installed on the app"
            )
        user = scope["user"]
        if not isinstance(user, BearerUser):
            raise MissingToken()
        if security_scopes.scopes:
            check_scopes(user.claims, security_scopes.scopes)
        return user.claims


#: The claims dependency: ``Depends(get_claims)`` or ``Security(get_claims,
#: scopes=[...])``.  It is the app's OAuth2 security scheme too;
#: :func:`configure_openapi` fills in the issuer's ``/v1/authorize`` URL and scopes.
get_claims = OktaBearerScheme(
    flows=OAuthFlows(implicit=OAuthFlowImplicit(authorizationUrl="/v1/authorize", scopes={})),
    scheme_name=SCHEME_NAME,
    description="Okta access token (Authorization: Bearer)",
    auto_error=False,
)


@checked_options
def require_scopes(*scopes: str) -> Any:
    """A dependency returning the claims after checking the token holds every one of ``scopes``.

    Use as a parameter default (``claims: Claims = require_scopes("a")``) or in
    ``dependencies=[require_scopes("a")]``; the scopes appear in the OpenAPI document.
    """
    return Security(get_claims, scopes=list(scopes))


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

    async def step_up(claims: Claims = Security(get_claims, scopes=list(scopes))) -> Claims:
        if policy:
            policy.check(claims.raw, clock(), scopes)
        return claims

    return Depends(step_up)


# --- end RFC 9470 ---


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

    Call it once, before the app serves; add CORS middleware after it (so
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
