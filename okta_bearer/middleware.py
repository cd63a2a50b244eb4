"""BearerAuthMiddleware: a pure ASGI middleware that authenticates every request.

It reads ``Authorization: Bearer``, has :class:`~okta_bearer.TokenVerifier`
judge the token, and either answers with an RFC 6750 error or calls the app
with ``scope["user"]`` and ``scope["auth"]`` filled the way Starlette's
``AuthenticationMiddleware`` fills them, so ``request.user``, ``request.auth``
and ``starlette.authentication.requires`` work unchanged.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from urllib.parse import parse_qsl

from starlette.authentication import AuthCredentials, BaseUser, UnauthenticatedUser
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ._claims import Claims
from ._errors import BearerError, ConfigurationError, InvalidRequest, MissingToken
from ._metadata import ProtectedResource
from ._rfc6750 import challenge, parse_authorization
from ._verifier import TokenVerifier

__all__ = ["BearerAuthMiddleware", "BearerUser"]

logger = logging.getLogger("okta_bearer")


class BearerUser(BaseUser):
    """The authenticated caller, as ``request.user``; ``claims`` holds the token's claims."""

    __slots__ = ("claims",)

    def __init__(self, claims: Claims) -> None:
        self.claims = claims

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def display_name(self) -> str:
        return self.claims.sub or self.claims.client_id or ""

    @property
    def identity(self) -> str:
        return self.claims.sub or self.claims.client_id or ""


def _route_path(scope: Scope) -> str:
    # ASGI servers and Starlette's Mount put root_path in front of "path";
    # routing strips it again, so public paths are matched the same way.
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    if root and path.startswith(root) and path[len(root) : len(root) + 1] in ("", "/"):
        return path[len(root) :] or "/"
    return path


class BearerAuthMiddleware:
    """Authenticate ``http`` and ``websocket`` requests with Bearer access tokens.

    Args:
        app: the ASGI app to protect.
        verifier: a configured :class:`TokenVerifier` (for any option beyond
            issuer and audience); or leave it out and pass ``issuer=`` and
            ``audience=``, and the middleware builds one with defaults.
        issuer: the issuer URL, when ``verifier`` is not given.
        audience: the accepted audience(s), when ``verifier`` is not given.
        public_paths: paths served without authentication.  An entry ending in
            ``/`` covers everything below it; other entries match exactly.
            Paths are the app's route paths, relative to ``root_path`` (set
            by a ``Mount`` or a server's ``--root-path``), as Starlette routes.
        optional: let requests without a token through as anonymous
            (``request.user.is_authenticated`` is false); a token that is
            present must still be valid.
        realm: the ``realm`` of ``WWW-Authenticate`` challenges.
        scopes: scopes every protected request must hold.
        error_details: include ``error``/``error_description`` in challenges
            and bodies (on by default, as RFC 6750 suggests).
        resource: this API's resource identifier (``https://api.example/mcp``),
            or a :class:`ProtectedResource` with more metadata.  The middleware
            then serves the RFC 9728 metadata document (public, GET/HEAD), names
            its URL in every 401/403 challenge, names ``scopes`` in 401
            challenges, and, when it builds the verifier, accepts the
            identifier as an audience (compared exactly, RFC 8707).

    Behaviour: deny by default (401 with a bare challenge when no token is
    sent), 400 ``invalid_request`` for a malformed header or two of them, 401
    ``invalid_token``, 403 ``insufficient_scope``, 503 with ``Retry-After``
    when keys cannot be had.  CORS preflights and ``lifespan`` pass through;
    a verifier the middleware built itself is closed at lifespan shutdown.
    A token in the ``access_token`` query parameter is never used; sent
    together with a header it is a 400.  A :class:`BearerError` raised by the
    app itself (for example by :func:`okta_bearer.fastapi.require_scopes`)
    becomes the same response, if the app has not started answering.
    """

    def __init__(
        self,
        app: ASGIApp,
        # Positional-only, as Starlette's middleware factory protocol declares it
        # (add_middleware type-checks even if keyword options are added later).
        /,
        verifier: TokenVerifier | None = None,
        *,
        issuer: str | None = None,
        audience: str | Iterable[str] | None = None,
        public_paths: Iterable[str] = (),
        optional: bool = False,
        realm: str = "api",
        scopes: Iterable[str] = (),
        error_details: bool = True,
        resource: str | ProtectedResource | None = None,
    ) -> None:
        owns_verifier = verifier is None
        # --- RFC 9728 / RFC 8707 (resource=) ---
        if isinstance(resource, str):
            resource = ProtectedResource(resource)
        elif resource is not None and not isinstance(resource, ProtectedResource):
            raise ConfigurationError("resource must be a URL string or a ProtectedResource")
        if verifier is None and resource is not None and issuer is not None:
            # The resource identifier is an accepted audience by default.
            audiences = [audience] if isinstance(audience, str) else list(audience or ())
            audience = [*audiences, resource.resource]
        # --- end RFC 9728 / RFC 8707 ---
        if verifier is None:
            if issuer is None or audience is None:
                missing = [n for n, v in (("issuer", issuer), ("audience", audience)) if v is None]
                raise ConfigurationError(
                    "BearerAuthMiddleware needs verifier= or the options " + " and ".join(missing)
                )
            verifier = TokenVerifier(issuer, audience)
        elif issuer is not None or audience is not None:
            raise ConfigurationError(
                "pass either verifier= or issuer=/audience=, not both "
                "(other verifier options go to TokenVerifier)"
            )
        if not isinstance(verifier, TokenVerifier):
            raise ConfigurationError("verifier must be a TokenVerifier")
        if isinstance(public_paths, str):
            raise ConfigurationError("public_paths must be a list of paths, not one string")
        paths = tuple(public_paths)
        if not all(isinstance(p, str) and p.startswith("/") for p in paths):
            raise ConfigurationError("public_paths entries must be paths starting with '/'")
        self.app = app
        self.verifier = verifier
        # A verifier we built is ours to close, when the app shuts down.
        self._owns_verifier = owns_verifier
        self._exact = frozenset(p for p in paths if not p.endswith("/"))
        self._prefixes = tuple(p for p in paths if p.endswith("/"))
        self._optional = bool(optional)
        self._realm = realm
        self._scopes = tuple(scopes)
        self._details = bool(error_details)
        # --- RFC 9728 (resource=) ---
        if resource is not None:
            resource = resource.with_authorization_servers([verifier.issuer])
        self._resource = resource
        self._metadata_paths = resource.paths if resource is not None else frozenset()
        self._metadata_url = resource.metadata_url if resource is not None else None
        # --- end RFC 9728 ---

    def _closing_on_shutdown(self, send: Send) -> Send:
        async def send_closing(message: Message) -> None:
            if message["type"] == "lifespan.shutdown.complete":
                await self.verifier.aclose()
            await send(message)

        return send_closing

    def _is_public(self, path: str) -> bool:
        return path in self._exact or (bool(self._prefixes) and path.startswith(self._prefixes))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind != "http" and kind != "websocket":
            if kind == "lifespan" and self._owns_verifier:
                send = self._closing_on_shutdown(send)
            await self.app(scope, receive, send)
            return
        # --- RFC 9728: the metadata document, matched with and without root_path ---
        paths = self._metadata_paths
        if (
            self._resource is not None
            and kind == "http"
            and (scope["path"] in paths or _route_path(scope) in paths)
        ):
            status, meta_headers, body = self._resource.response(scope["method"])
            await send({"type": "http.response.start", "status": status, "headers": meta_headers})
            await send({"type": "http.response.body", "body": body})
            return
        # --- end RFC 9728 ---
        if self._is_public(_route_path(scope)):
            scope["user"], scope["auth"] = UnauthenticatedUser(), AuthCredentials()
            await self.app(scope, receive, send)
            return
        headers: list[tuple[bytes, bytes]] = scope["headers"]
        # CORS preflight: browsers never send credentials on it.
        if (
            kind == "http"
            and scope["method"] == "OPTIONS"
            and any(name == b"access-control-request-method" for name, _ in headers)
        ):
            await self.app(scope, receive, send)
            return
        try:
            token = parse_authorization([v for k, v in headers if k == b"authorization"])
            if b"access_token" in scope.get("query_string", b""):
                self._check_query(scope, token)
            if token is None:
                if self._optional:
                    scope["user"], scope["auth"] = UnauthenticatedUser(), AuthCredentials()
                    await self.app(scope, receive, send)
                    return
                raise MissingToken()
            claims = await self.verifier.verify(token, self._scopes)
        except BearerError as error:
            await self._deny(scope, receive, send, error)
            return
        scope["user"] = BearerUser(claims)
        scope["auth"] = AuthCredentials(list(claims.scopes))
        await self._call_app(scope, receive, send)

    @staticmethod
    def _check_query(scope: Scope, token: str | None) -> None:
        # RFC 6750 section 2.3 is not supported (tokens in URLs leak into logs
        # and history), but sending two methods at once is a malformed request.
        query = scope["query_string"].decode("latin-1")
        if token is not None and any(k == "access_token" for k, _ in parse_qsl(query)):
            raise InvalidRequest("multiple_methods", "Use only one method to send the token")

    async def _call_app(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = False

        async def send_tracking(message: Message) -> None:
            nonlocal started
            started = True
            await send(message)

        try:
            await self.app(scope, receive, send_tracking)
        except BearerError as error:
            if started:
                raise
            await self._deny(scope, receive, send, error)

    async def _deny(self, scope: Scope, receive: Receive, send: Send, error: BearerError) -> None:
        logger.debug("okta_bearer: %s denied (%s, %s)", scope["type"], error.status, error.reason)
        status, headers, body = self.error_response(error)
        if scope["type"] == "http":
            await send({"type": "http.response.start", "status": status, "headers": headers})
            await send({"type": "http.response.body", "body": body})
            return
        # WebSocket: refuse during the handshake, before any accept.
        message = await receive()
        if message["type"] != "websocket.connect":
            return
        if "websocket.http.response" in scope.get("extensions", {}):
            await send(
                {"type": "websocket.http.response.start", "status": status, "headers": headers}
            )
            await send({"type": "websocket.http.response.body", "body": body})
        else:
            await send({"type": "websocket.close", "code": 1008})

    def error_response(self, error: BearerError) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        """The status, headers and JSON body answering ``error`` (no token contents)."""
        details = self._details
        body = json.dumps(
            {
                "error": error.error if details else None,
                "error_description": error.description if details else None,
            }
        ).encode()
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"cache-control", b"no-store"),
        ]
        if error.status == 503:
            retry_after = getattr(error, "retry_after", 5)
            headers.append((b"retry-after", str(retry_after).encode()))
        else:
            value = challenge(
                error,
                realm=self._realm,
                details=details,
                # RFC 9728 5.1; a 401 names the middleware's scopes only with a resource.
                resource_metadata=self._metadata_url,
                scopes=self._scopes if self._metadata_url else (),
            )
            headers.append((b"www-authenticate", value.encode("ascii")))
        return error.status, headers, body
