"""DevIssuer: the endpoint groups behind one Starlette app, plus discovery and keys."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from urllib.parse import urlsplit

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from .._dpop.proof import DPOP_ALGORITHMS
from .._options import checked_options
from ..testing import LocalIssuer, TokenRegistry
from ._admin import AdminEndpoints
from ._authorize import AuthorizeEndpoints
from ._context import ACR_VALUES_SUPPORTED
from ._introspect import INTROSPECT_AUTH_METHODS, REVOKE_AUTH_METHODS, IntrospectEndpoints
from ._models import (
    DEFAULT_CLIENT_ID,
    DEFAULT_SCOPES,
    DEFAULT_USERS,
    USER_SCOPES,
    DevClient,
    DevUser,
    Store,
)
from ._pages import home_page
from ._policy import RegistrationPolicy
from ._register import AUTH_METHODS, GRANT_TYPES, RegistrationEndpoint
from ._token import TokenEndpoints


@checked_options
class DevIssuer(
    AuthorizeEndpoints, TokenEndpoints, IntrospectEndpoints, AdminEndpoints, RegistrationEndpoint
):
    """An Okta-shaped authorization server for one machine, as an ASGI app.

    Args:
        issuer: the :class:`LocalIssuer` whose keys sign every token; its
            ``issuer`` URL (e.g. ``http://127.0.0.1:9400/oauth2/default``)
            decides where the endpoints are served and its ``audience`` is the
            ``aud`` of access tokens.
        clients: registered clients; defaults to :data:`DEFAULT_CLIENT_ID` with
            no redirect URI (so pass your own).
        users: who may sign in, as :class:`DevUser` or ``{login: password}``;
            defaults to :data:`DEFAULT_USERS`.
        scopes: custom scopes the server offers besides ``openid``,
            ``profile``, ``email`` and ``offline_access``.
        default_scopes: granted when a request asks for none; with any
            configured, ``openid`` is no longer required (as Okta's default scope).
        token_lifetime: seconds an access or ID token lives (``expires_in``).
        code_lifetime: seconds an authorization code can be redeemed.
        session_lifetime: seconds a sign-in session lasts.
        cookie_name: the session cookie's name (the sign-in form's browser
            binding uses it with a ``_browser`` suffix).
        show_credentials: list the users and their passwords on the sign-in
            page (the demo does; off by default).
        registration_scopes: the custom scopes a client registered through
            ``/v1/register`` may receive, by any grant; ``None`` (the default)
            means the ``default_scopes``.  OpenID Connect scopes about the
            signed-in user are always allowed.
        registration_audiences: the RFC 8707 ``resource`` values such a client
            may name; ``None`` (the default) allows none, so its tokens carry
            the issuer's own ``audience`` only.

    Raises:
        ValueError: a ``default_scopes`` entry is not among the offered scopes.
        ConfigurationError: a ``registration_scopes`` entry is not offered, or
            a ``registration_audiences`` entry is not an absolute URI.

    Use it as an ASGI app (``uvicorn.run(DevIssuer(...))``) or in tests with
    ``httpx.ASGITransport(app=dev_issuer)``.
    """

    def __init__(
        self,
        issuer: LocalIssuer,
        *,
        clients: Iterable[DevClient] = (),
        users: Iterable[DevUser] | Mapping[str, str] | None = None,
        scopes: Iterable[str] | None = None,
        default_scopes: Iterable[str] = (),
        token_lifetime: int = 3600,
        code_lifetime: int = 300,
        session_lifetime: int = 8 * 3600,
        cookie_name: str = "okta_bearer_dev_sid",
        show_credentials: bool = False,
        registration_scopes: Iterable[str] | None = None,
        registration_audiences: Iterable[str] | None = None,
    ) -> None:
        self.local = issuer
        clients = tuple(clients) or (DevClient(DEFAULT_CLIENT_ID, ()),)
        self.clients = {c.client_id: c for c in clients}
        if users is None:
            users = dict(DEFAULT_USERS)
        if isinstance(users, Mapping):
            users = [DevUser(login, password) for login, password in users.items()]
        self.users = {u.login.lower(): u for u in users}
        custom = tuple(DEFAULT_SCOPES if scopes is None else scopes)
        self.scopes = tuple(dict.fromkeys((*USER_SCOPES, *custom)))
        self.default_scopes = tuple(default_scopes)
        unknown = [s for s in self.default_scopes if s not in self.scopes]
        if unknown:
            raise ValueError(f"default_scopes not offered by the server: {unknown}")
        self.token_lifetime = token_lifetime
        self.code_lifetime = code_lifetime
        self.session_lifetime = session_lifetime
        self.cookie_name = cookie_name
        self.show_credentials = show_credentials
        self.registration = RegistrationPolicy.build(
            offered=self.scopes,
            scopes=self.default_scopes if registration_scopes is None else registration_scopes,
            audiences=registration_audiences or (),
        )
        self._store = Store()
        self._registered = []
        self.tokens = TokenRegistry(issuer)
        self.base_path = urlsplit(issuer.issuer).path.rstrip("/")
        base = self.base_path
        routes = [
            Route("/", self._home, methods=["GET"]),
            Route(f"{base}/.well-known/oauth-authorization-server", self._metadata),
            Route(f"{base}/.well-known/openid-configuration", self._metadata),
            # RFC 8414 section 3.1: the well-known suffix inserted before the issuer's path.
            Route(f"/.well-known/oauth-authorization-server{base}", self._metadata),
            Route(f"{base}/v1/register", self._register, methods=["POST"]),
            Route(f"{base}/v1/keys", self._keys, methods=["GET"]),
            Route(f"{base}/v1/authorize", self._authorize, methods=["GET"]),
            Route(f"{base}/v1/login", self._login, methods=["POST"]),
            Route(f"{base}/v1/consent", self._consent, methods=["POST"]),
            Route(f"{base}/v1/token", self._token, methods=["POST"]),
            Route(f"{base}/v1/userinfo", self._userinfo, methods=["GET", "POST"]),
            Route(f"{base}/v1/logout", self._logout, methods=["GET"]),
            Route(f"{base}/v1/introspect", self._introspect, methods=["POST"]),
            Route(f"{base}/v1/revoke", self._revoke, methods=["POST"]),
        ]
        self._admin_prefix = f"{base}/dev/"
        self._admin = Starlette(
            routes=[
                Route(f"{base}/dev/mint", self._admin_mint, methods=["POST"]),
                Route(f"{base}/dev/rotate", self._admin_rotate, methods=["POST"]),
            ]
        )
        origins = sorted({o for c in self.clients.values() for o in c.origins})
        cors = Middleware(
            CORSMiddleware,
            allow_origins=origins,
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type", "DPoP"],
        )
        self.app = Starlette(routes=routes, middleware=[cors])

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # The admin routes live outside the CORS middleware: no origin, not even
        # a registered client's, is ever allowed to call them from a page.
        path: str = scope.get("path", "")
        if scope["type"] == "http" and path.startswith(self._admin_prefix):
            await self._admin(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    async def _home(self, request: Request) -> Response:
        return home_page(self.issuer, self.clients.values())

    async def _metadata(self, request: Request) -> Response:
        meta = self.local.metadata()
        meta.update(
            scopes_supported=list(self.scopes),
            response_modes_supported=["query", "fragment"],
            grant_types_supported=list(GRANT_TYPES),
            token_endpoint_auth_methods_supported=list(AUTH_METHODS),
            registration_endpoint=f"{self.issuer}/v1/register",
            acr_values_supported=list(ACR_VALUES_SUPPORTED),
            end_session_endpoint=f"{self.issuer}/v1/logout",
            introspection_endpoint=f"{self.issuer}/v1/introspect",
            introspection_endpoint_auth_methods_supported=INTROSPECT_AUTH_METHODS,
            revocation_endpoint=f"{self.issuer}/v1/revoke",
            revocation_endpoint_auth_methods_supported=REVOKE_AUTH_METHODS,
            dpop_signing_alg_values_supported=sorted(DPOP_ALGORITHMS),  # RFC 9449 section 5.1
            claims_supported=[
                "iss", "sub", "aud", "exp", "iat", "auth_time", "acr", "nonce", "at_hash",
                "name", "preferred_username", "email", "email_verified",
            ],
        )  # fmt: skip
        return JSONResponse(meta)

    async def _keys(self, request: Request) -> Response:
        headers = {"cache-control": f"max-age={self.local.keys_max_age}, must-revalidate"}
        return JSONResponse(self.local.jwks(), headers=headers)
