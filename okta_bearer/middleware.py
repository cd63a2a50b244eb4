"""BearerAuthMiddleware: a pure ASGI middleware that authenticates every request.

It reads ``Authorization: Bearer``, has a :class:`~okta_bearer.Verifier` judge
the token, and either answers with an RFC 6750 error or calls the app with
``scope["user"]`` and ``scope["auth"]`` filled the way Starlette's
``AuthenticationMiddleware`` fills them, so ``request.user``, ``request.auth``
and ``starlette.authentication.requires`` work unchanged.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Awaitable, Callable, Iterable
from time import perf_counter
from typing import Any

from starlette.authentication import AuthCredentials, BaseUser, UnauthenticatedUser
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ._dpop.guard import DPoPGuard, Scheme
from ._dpop.settings import DPoPSettings
from ._errors import (
    BearerError,
    ConfigurationError,
    InsufficientScope,
    MissingToken,
)
from ._events import Events, outcome_of
from ._http.metadata import ProtectedResource, declared_scopes
from ._http.responses import ErrorResponse
from ._http.rfc6750 import ParsedHeaders
from ._http.scope import check_query
from ._http.scope import names_access_token as _names_access_token
from ._http.scope import route_path as _route_path
from ._http.settings import AuthSettings, OnError
from ._http.settings import log_refusal as _log_refusal
from ._http.startup import StartupCheck, check_option, report
from ._jwt.binding import check_bearer
from ._jwt.claims import Claims
from ._jwt.validation import check_scopes
from ._options import checked_options
from ._protocols import Verifier, warm_up

__all__ = ["BearerAuthMiddleware", "BearerUser", "OnError", "StartupCheck"]

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


def _in_event_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


@checked_options
class BearerAuthMiddleware:
    """Authenticate ``http`` and ``websocket`` requests with Bearer access tokens.

    Args:
        app: the ASGI app to protect.
        verifier: any :class:`~okta_bearer.Verifier` (a configured
            :class:`~okta_bearer.TokenVerifier`, for instance); or leave it out
            and pass ``issuer=`` and ``audience=``, and the middleware builds a
            ``TokenVerifier`` with defaults (and closes it at lifespan shutdown).
        issuer: the issuer URL, when ``verifier`` is not given.
        audience: the accepted audience(s), when ``verifier`` is not given.
        public_paths: paths served without authentication.  An entry ending in
            ``/`` covers everything below it; other entries match exactly
            (``/`` alone too: the root page, never every path).
            Paths are the app's route paths, relative to ``root_path`` (set
            by a ``Mount`` or a server's ``--root-path``), as Starlette routes.
        optional: let requests without a token through as anonymous
            (``request.user.is_authenticated`` is false); a token that is
            present must still be valid.
        realm: the ``realm`` of ``WWW-Authenticate`` challenges (``None``: none).
        required_scopes: scopes every protected request must hold.
        error_details: include ``error``/``error_description`` in challenges
            and bodies (on by default, as RFC 6750 suggests).
        resource: this API's resource identifier (``https://api.example/mcp``),
            or a :class:`~okta_bearer.ProtectedResource` with more metadata.
            The middleware then serves the RFC 9728 metadata document (public,
            GET/HEAD), names its URL in every 401/403 challenge, names
            ``required_scopes`` in 401 challenges, and, when it builds the
            verifier, accepts the identifier as an audience (RFC 8707).  The
            document names every issuer the verifier accepts, the required
            scopes and any ``scopes_supported`` the wrapped apps declare
            (:class:`okta_bearer.mcp.ToolScopes`), and the ``dpop=`` mode
            (see :meth:`ProtectedResource.describing`).
        on_error: ``on_error(error) -> dict`` builds the JSON body of a
            refusal.  Only the body: the status, ``WWW-Authenticate``,
            ``Retry-After`` and ``Cache-Control: no-store`` stay as RFC 6750
            wants them.  If it raises, the default body is sent.
        dpop: a :class:`~okta_bearer.DPoPSettings` to accept DPoP
            (RFC 9449): ``Authorization: DPoP <token>`` with a ``DPoP`` proof
            header, in the settings' mode (``bearer``, ``allowed`` or
            ``required``).  Then challenges name ``DPoP algs="..."`` next to
            or instead of ``Bearer`` (RFC 9449 section 7.1), a missing or bad
            proof is 401 ``invalid_dpop_proof``, a missing nonce 401
            ``use_dpop_nonce`` with ``DPoP-Nonce`` (and a success carries the
            next nonce before the old one expires), and a replay store outage
            503 with ``Retry-After`` (unless ``store_failure="fail_open"``).
            ``None`` (the default): Bearer only.  In every case a
            sender-constrained token (any ``cnf``, or introspection's
            ``token_type: DPoP``) sent as ``Bearer`` is 401, before any
            scope check (:func:`okta_bearer.check_bearer`).
        events: metric hooks (:class:`okta_bearer.metrics.PrometheusEvents`):
            every request judged is reported once with its outcome, reason
            and the time spent judging it, refusals before verification (no
            token, a malformed header) included.  When the middleware builds
            the verifier, the verifier reports to it too (key fetches,
            caches); a verifier you pass takes its own ``events=``.
        startup_check: at lifespan start-up the verifier fetches the issuer's
            metadata and keys (its ``warm_up()``, bounded by its timeouts), so
            the first request pays nothing and a wrong issuer URL, an issuer
            mismatch or an unreachable host is logged at ERROR with what to
            check, before any request.  ``"warn"`` (the default) then starts
            anyway, since an issuer outage must not stop a deploy (requests
            get 503 until keys can be had); ``"exit"`` fails the start-up
            instead (uvicorn exits with status 3); ``"off"`` skips the check.

    Behaviour: deny by default (401 with a bare challenge when no token is
    sent), 400 ``invalid_request`` for a malformed header or two of them, 401
    ``invalid_token``, 403 ``insufficient_scope``, 503 with ``Retry-After``
    when keys cannot be had.  Every request but those on public paths is
    authenticated, ``OPTIONS`` included: put CORS middleware outside this one.
    ``lifespan`` passes through.  A token in the ``access_token`` query
    parameter is never used; sent together with a header it is a 400.  A
    :class:`BearerError` raised by the app itself (for example by
    :func:`okta_bearer.fastapi.require_scopes`, or on a public path) becomes
    the same response, unless the app has already started its own; wherever it
    is raised, in a mounted Starlette or FastAPI app too (whose own 500 for it
    is dropped: an answer with status 500, or started while a refusal is
    handled, is sent once the app returns), and on a WebSocket already
    accepted it closes the socket with 1008 (policy violation).  Every
    refusal is logged on the ``okta_bearer`` logger (INFO; 503 at WARNING).

    Raises:
        ConfigurationError: an option is wrong or unknown, naming it (and,
            for a misspelt one, the option meant).  Starlette and
            FastAPI build middleware lazily, inside the server's first
            (lifespan) call, where an exception only makes uvicorn decide that
            lifespan is unsupported.  So when built inside a running event
            loop the error is kept instead: the middleware answers lifespan
            start-up with ``lifespan.startup.failed`` carrying the message (the
            server exits) and raises it on any request.
    """

    def __init__(
        self,
        app: ASGIApp,
        # Positional-only, as Starlette's middleware factory protocol declares it
        # (add_middleware type-checks even if keyword options are added later).
        /,
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
    ) -> None:
        self.app = app
        self._failed: ConfigurationError | None = None
        self._configure(
            verifier,
            issuer,
            audience,
            public_paths,
            optional,
            realm,
            required_scopes,
            error_details,
            resource,
            on_error,
            dpop,
            events,
        )
        self._startup_check = check_option(startup_check)

    def _configuration_failed(self, error: ConfigurationError, args: tuple[Any, ...]) -> None:
        # Called by checked_options for a wrong option (unknown ones included).
        # Outside an event loop the caller sees the error where it wrote it;
        # inside one (Starlette's lazy build) it waits for lifespan start-up.
        if not _in_event_loop():
            raise error
        self.app = args[0] if args else _unconfigured
        self._failed = error

    def _configure(
        self,
        verifier: Verifier | None,
        issuer: str | None,
        audience: str | Iterable[str] | None,
        public_paths: Iterable[str],
        optional: bool,
        realm: str | None,
        required_scopes: Iterable[str],
        error_details: bool,
        resource: str | ProtectedResource | None,
        on_error: OnError | None,
        dpop: DPoPSettings | None,
        events: Events | None,
    ) -> None:
        # The options mean the same for every driver (Flask, Django): one check.
        settings = AuthSettings(
            verifier=verifier,
            issuer=issuer,
            audience=audience,
            public_paths=public_paths,
            optional=optional,
            realm=realm,
            required_scopes=required_scopes,
            error_details=error_details,
            resource=resource,
            on_error=on_error,
            dpop=dpop,
            events=events,
            side="async",
            declared_scopes=declared_scopes(self.app),
        )
        self._settings = settings
        self._events = settings.events
        self._challenge = settings.challenge
        self.verifier: Verifier = settings.verifier
        # A verifier we built is ours to close, when the app shuts down.
        self._owns_verifier = settings.owns_verifier
        self._exact = settings.exact
        self._prefixes = settings.prefixes
        self._optional = settings.optional
        self._required_scopes = settings.required_scopes
        self._on_error = settings.on_error
        self._dpop = settings.dpop
        self._resource = settings.resource
        self._metadata_paths = settings.metadata_paths
        self._parsed = ParsedHeaders()

    @property
    def required_scopes(self) -> tuple[str, ...]:
        """The scopes every protected request must hold."""
        return self._required_scopes

    @property
    def optional(self) -> bool:
        """Whether anonymous requests reach the app (as ``UnauthenticatedUser``)."""
        return self._optional

    def is_public(self, path: str) -> bool:
        """Whether ``path`` (a route path, relative to ``root_path``) is served without a token."""
        return path in self._exact or (bool(self._prefixes) and path.startswith(self._prefixes))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind != "http" and kind != "websocket":
            if kind == "lifespan":
                await self._lifespan(scope, receive, send)
            else:
                await self.app(scope, receive, send)
            return
        if self._failed is not None:
            # A fresh exception each time: re-raising one instance grows its traceback.
            raise ConfigurationError(*self._failed.args)
        # No root_path (the common case): the path is the route path as it is.
        path = _route_path(scope) if scope.get("root_path") else scope["path"]
        # RFC 9728 section 3: the document, matched with and without root_path.
        metadata = self._metadata_paths
        if metadata and kind == "http" and (scope["path"] in metadata or path in metadata):
            await self._send_metadata(scope, send)
            return
        if self.is_public(path):
            scope["user"], scope["auth"] = UnauthenticatedUser(), AuthCredentials()
            await self._call_app(scope, receive, send)
            return
        start = perf_counter() if self._events is not None else 0.0
        if self._dpop is not None:
            await self._dpop_request(self._dpop, scope, receive, send, start)
            return
        anonymous = False
        try:
            headers: list[tuple[bytes, bytes]] = scope["headers"]
            values = [v for k, v in headers if k == b"authorization"]
            token = self._parsed.parse(values)
            if _names_access_token(scope):
                self._check_query(scope, token)
            if token is None:
                if not self._optional:
                    raise MissingToken()
                anonymous = True
                scope["user"], scope["auth"] = UnauthenticatedUser(), AuthCredentials()
            else:
                try:
                    claims = await self.verifier.verify(token)
                except InsufficientScope as error:
                    # The verifier's own required scopes: the binding still comes first.
                    if error.claims is not None:
                        check_bearer(error.claims)
                    raise
                # RFC 9449 section 7.2: a sender-constrained token is not a bearer
                # token, even where DPoP is not enabled (a stolen one must not
                # work as Bearer), and a thief learns no scope names: checked first
                # (the attribute test first only saves a call on the hot path).
                if claims.binding is not None:
                    check_bearer(claims)
                if self._required_scopes:
                    check_scopes(claims, self._required_scopes)
                self._parsed.remember(values, token)
                scope["user"] = BearerUser(claims)
                scope["auth"] = AuthCredentials(list(claims.scopes))
        except BearerError as error:
            await self._refuse(
                scope, receive, send, error, connect_pending=True, seconds=self._since(start)
            )
            return
        await self._admit(scope, receive, send, start, anonymous=anonymous)

    def _since(self, start: float) -> float:
        return perf_counter() - start if self._events is not None else 0.0

    def _admit(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        start: float,
        *,
        anonymous: bool,
        scheme: Scheme | None = None,
    ) -> Awaitable[None]:
        # Call the app; with metrics, the request is reported once the route
        # starts answering (it may still refuse, as require_scopes does).
        # Returns the call to await (one coroutine frame fewer per request).
        events = self._events
        if events is None:
            return self._call_app(scope, receive, send, scheme)
        seconds = perf_counter() - start
        outcome, reason = ("anonymous", "missing_token") if anonymous else ("ok", "ok")
        return self._call_app(
            scope, receive, send, scheme, lambda: events.request(outcome, reason, seconds), seconds
        )

    async def _dpop_request(
        self, guard: DPoPGuard, scope: Scope, receive: Receive, send: Send, start: float
    ) -> None:
        # The same steps with DPoP on (RFC 9449 sections 4.3 and 7): the scheme
        # decides which challenge carries the error, so it goes to the refusal.
        scheme: Scheme | None = None
        anonymous = False
        try:
            headers: list[tuple[bytes, bytes]] = scope["headers"]
            found = guard.credentials([v for k, v in headers if k == b"authorization"])
            token = None if found is None else found[1]
            if _names_access_token(scope):
                self._check_query(scope, token)
            if found is None:
                if not self._optional:
                    raise MissingToken()
                anonymous = True
                scope["user"], scope["auth"] = UnauthenticatedUser(), AuthCredentials()
            else:
                scheme, token = found
                # Proof and binding before scopes: without possession of the
                # key, a token's scopes are no one's business (the verifier's
                # own required scopes included).
                try:
                    claims = await self.verifier.verify(token)
                except InsufficientScope as error:
                    if error.claims is not None:
                        await guard.check(scope, scheme, token, error.claims)
                    raise
                proof = await guard.check(scope, scheme, token, claims)
                if proof is not None:
                    send = guard.offer_nonce(proof, send)
                if self._required_scopes:
                    check_scopes(claims, self._required_scopes)
                scope["user"] = BearerUser(claims)
                scope["auth"] = AuthCredentials(list(claims.scopes))
        except BearerError as error:
            await self._refuse(
                scope,
                receive,
                send,
                error,
                connect_pending=True,
                scheme=scheme,
                seconds=self._since(start),
            )
            return
        await self._admit(scope, receive, send, start, anonymous=anonymous, scheme=scheme)

    async def _send_metadata(self, scope: Scope, send: Send) -> None:
        assert self._resource is not None
        status, headers, body = self._resource.response(scope["method"])
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def _lifespan(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._failed is not None:
            # ASGI lifespan spec: startup.failed makes the server stop with this
            # message, where an exception would only mean "lifespan unsupported".
            if (await receive())["type"] == "lifespan.startup":
                message = f"okta_bearer.ConfigurationError: {self._failed}"
                await send({"type": "lifespan.startup.failed", "message": message})
            return
        if self._startup_check != "off":
            checked = await self._check_issuer(receive, send)
            if checked is None:
                return  # start-up failed: the server stops
            receive = checked
        dpop = self._dpop.settings if self._dpop is not None else None
        owns_store = dpop is not None and dpop.owns_store
        if not self._owns_verifier and not owns_store:
            await self.app(scope, receive, send)
            return

        async def send_closing(message: Message) -> None:
            if message["type"] == "lifespan.shutdown.complete":
                if self._owns_verifier:
                    await self.verifier.aclose()
                if dpop is not None and owns_store:
                    await dpop.replay_store.aclose()
            await send(message)

        await self.app(scope, receive, send_closing)

    async def _check_issuer(self, receive: Receive, send: Send) -> Receive | None:
        # Warm the verifier when start-up begins, before the app's own start-up
        # runs; None when the check failed in "exit" mode (startup.failed sent).
        message = await receive()
        if message["type"] == "lifespan.startup":
            problems = await warm_up(self.verifier)
            stop = report(problems, self._startup_check)
            if stop is not None:
                if self._owns_verifier:
                    await self.verifier.aclose()
                await send({"type": "lifespan.startup.failed", "message": stop})
                return None
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return message

        return replay

    _check_query = staticmethod(check_query)

    async def _call_app(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        scheme: Scheme | None = None,
        admitted: Callable[[], None] | None = None,
        seconds: float = 0.0,
    ) -> None:
        # A BearerError from the app is answered like ours, but only while the
        # app has sent nothing: a second response start is a protocol error.
        # ``admitted`` reports the request once the app answers (or ends) without one.
        # A mounted Starlette or FastAPI app has its own ServerErrorMiddleware,
        # which answers a refusal raised inside it with a 500 (or its handler's
        # answer) and then re-raises it.  So an answer the app starts while a
        # BearerError is being handled, or with status 500 (sent from another
        # task, by a BaseHTTPMiddleware between us and the mount), is held
        # back until the app returns: dropped if a BearerError reaches us (we
        # answer it, wherever the route lives), sent as it was otherwise.
        started = False
        held: list[Message] | None = None
        # A WebSocket app that has not read the connect message yet leaves the
        # handshake to the refusal; HTTP requests have no handshake.
        connect_pending = scope["type"] == "websocket"
        socket_open = False  # accepted by the app, and not closed since

        def send_tracking(message: Message) -> Awaitable[None]:
            # Returns send's own awaitable: no coroutine of ours per message.
            nonlocal started, held
            if not started:
                # A success (status under 300, or none) is never that answer:
                # it pays no more than one look at the status.
                if held is not None or (
                    message.get("status", 0) >= 300 and _may_answer_refusal(message)
                ):
                    if held is None:
                        held = []
                    held.append(message)
                    return _nothing()
                started = True
                if admitted is not None:
                    admitted()
            return send(message)

        app_send = send_tracking
        app_receive = receive
        if connect_pending:

            async def receive_tracking() -> Message:
                nonlocal connect_pending, socket_open
                message = await receive()
                if message["type"] == "websocket.connect":
                    connect_pending = False
                elif message["type"] == "websocket.disconnect":
                    socket_open = False
                return message

            def send_socket(message: Message) -> Awaitable[None]:
                nonlocal socket_open
                kind = message["type"]
                socket_open = kind == "websocket.accept" or (
                    socket_open and kind == "websocket.send"
                )
                return send_tracking(message)

            app_receive, app_send = receive_tracking, send_socket

        try:
            await self.app(scope, app_receive, app_send)
        except BearerError as error:
            if not started:
                admitted = None
                await self._refuse(
                    scope,
                    receive,
                    send,
                    error,
                    connect_pending=connect_pending,
                    scheme=scheme,
                    seconds=seconds,
                )
                return
            if scope["type"] != "websocket":
                raise  # the response has begun: only the server can end it now
            # A refusal after the handshake (check_auth in the endpoint): the
            # socket is closed with 1008, policy violation (RFC 6455 section
            # 7.4.1), never left to the server as an unhandled exception.
            _log_refusal(scope, error)
            if socket_open:
                await send({"type": "websocket.close", "code": 1008})
        except Exception:
            if held is not None:
                started = True
                await _release(held, send, admitted)
            raise
        else:
            if held is not None:
                started = True
                await _release(held, send, admitted)
        finally:
            if not started and admitted is not None:
                admitted()

    async def _refuse(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        error: BearerError,
        *,
        connect_pending: bool,
        scheme: Scheme | None = None,
        seconds: float = 0.0,
    ) -> None:
        if self._events is not None:
            self._events.request(outcome_of(error), error.reason, seconds)
        _log_refusal(scope, error)
        response = self.error_response(error, scheme)
        if scope["type"] == "http":
            await send(
                {
                    "type": "http.response.start",
                    "status": response.status,
                    "headers": response.headers,
                }
            )
            await send({"type": "http.response.body", "body": response.body})
            return
        # WebSocket: refuse during the handshake, before any accept.
        if connect_pending and (await receive())["type"] != "websocket.connect":
            return
        if "websocket.http.response" in scope.get("extensions", {}):
            await send(
                {
                    "type": "websocket.http.response.start",
                    "status": response.status,
                    "headers": response.headers,
                }
            )
            await send({"type": "websocket.http.response.body", "body": response.body})
        else:
            await send({"type": "websocket.close", "code": 1008})

    def error_response(self, error: BearerError, scheme: Scheme | None = None) -> ErrorResponse:
        """The status, headers and body answering ``error`` (no token contents).

        ``scheme`` is the authorization scheme the request used (``"Bearer"``,
        ``"DPoP"``, or ``None`` for none); with DPoP on, the error goes on that
        scheme's challenge.
        """
        return self._settings.error_response(error, scheme)


async def _nothing() -> None:
    """The awaitable of a message held back (see ``_call_app``)."""


def _may_answer_refusal(message: Message) -> bool:
    # A 500, or any answer started while a BearerError is being handled (an
    # exception handler's own status): see ``_call_app``.
    return message["status"] == 500 or isinstance(sys.exc_info()[1], BearerError)


async def _release(held: list[Message], send: Send, admitted: Callable[[], None] | None) -> None:
    # The answer held back was the app's own (no refusal reached us): as sent.
    if admitted is not None:
        admitted()
    for message in held:
        await send(message)


async def _unconfigured(scope: Scope, receive: Receive, send: Send) -> None:
    raise RuntimeError("okta_bearer: BearerAuthMiddleware was given no app")
