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
from collections.abc import Callable, Iterable, Mapping
from time import perf_counter
from typing import Any, Literal, get_args
from urllib.parse import parse_qsl

from starlette.authentication import AuthCredentials, BaseUser, UnauthenticatedUser
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ._dpop.guard import DPoPGuard, Scheme
from ._dpop.settings import DPoPSettings
from ._errors import (
    BearerError,
    ConfigurationError,
    InsufficientScope,
    InvalidRequest,
    MissingToken,
    UseDPoPNonce,
)
from ._events import Events, check_events, outcome_of
from ._http.metadata import ProtectedResource, declared_scopes
from ._http.responses import ChallengeSettings, ErrorResponse, error_response
from ._http.rfc6750 import is_scope_token, parse_authorization
from ._jwt.binding import check_bearer
from ._jwt.claims import Claims
from ._jwt.validation import check_scopes
from ._jwt.verifier import TokenVerifier
from ._log_fields import token_fields
from ._opaque.issuers import issuers_of
from ._options import called_api, checked_options
from ._protocols import Verifier, warm_up

__all__ = ["BearerAuthMiddleware", "BearerUser", "OnError", "StartupCheck"]

logger = logging.getLogger("okta_bearer")

#: ``on_error(error)`` returns the JSON body to send instead of the default one.
OnError = Callable[[BearerError], Mapping[str, Any]]
#: What lifespan start-up does about the issuer: ``"warn"`` fetches its
#: metadata and keys and logs a problem at ERROR, ``"exit"`` also stops the
#: server (``lifespan.startup.failed``), ``"off"`` leaves it to the first request.
StartupCheck = Literal["warn", "exit", "off"]
_STARTUP_CHECKS = frozenset(get_args(StartupCheck))

_CONTEXT_LIMIT = 200  # characters of one logged context value (claims are attacker-chosen)


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
            ``/`` covers everything below it; other entries match exactly.
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
    the same response, unless the app has already started its own.  Every
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
        if startup_check not in _STARTUP_CHECKS:
            raise ConfigurationError(
                f"startup_check must be one of {sorted(_STARTUP_CHECKS)}, got {startup_check!r}"
            )
        self._startup_check = startup_check

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
        self._events = check_events(events)
        if isinstance(public_paths, str):
            raise ConfigurationError("public_paths must be a list of paths, not one string")
        paths = tuple(public_paths)
        if not all(isinstance(p, str) and p.startswith("/") for p in paths):
            raise ConfigurationError("public_paths entries must be paths starting with '/'")
        if isinstance(required_scopes, str):
            raise ConfigurationError("required_scopes must be a list of scopes, not one string")
        scopes = tuple(required_scopes)
        if not all(isinstance(s, str) and is_scope_token(s) for s in scopes):
            raise ConfigurationError("required_scopes entries must be RFC 6749 scope tokens")
        if on_error is not None and not callable(on_error):
            raise ConfigurationError("on_error must be a callable taking the BearerError")
        if dpop is not None and not isinstance(dpop, DPoPSettings):
            raise ConfigurationError("dpop must be an okta_bearer.DPoPSettings or None")
        if isinstance(resource, str):
            resource = ProtectedResource(resource)
        elif resource is not None and not isinstance(resource, ProtectedResource):
            raise ConfigurationError("resource must be a URL string or a ProtectedResource")
        self._challenge = ChallengeSettings(
            realm=realm,
            details=bool(error_details),
            resource_metadata=resource.metadata_url if resource is not None else None,
            # A 401 names the middleware's scopes only with a resource (RFC 9728 5.1).
            scopes=scopes if resource is not None else (),
        )
        if verifier is None and resource is not None and issuer is not None:
            # RFC 8707: the resource identifier is an accepted audience by default.
            audiences = [audience] if isinstance(audience, str) else list(audience or ())
            audience = [*audiences, resource.resource]
        if verifier is None:
            if issuer is None or audience is None:
                missing = [n for n, v in (("issuer", issuer), ("audience", audience)) if v is None]
                needs = " and ".join(f"{name}=" for name in missing)
                api = called_api("BearerAuthMiddleware()")
                raise ConfigurationError(f"{api} needs {needs} (or verifier= for another verifier)")
            verifier = TokenVerifier(issuer, audience, events=self._events)
            owns_verifier = True
        elif issuer is not None or audience is not None:
            raise ConfigurationError(
                "pass either verifier= or issuer=/audience=, not both "
                "(other verifier options go to TokenVerifier)"
            )
        elif not isinstance(verifier, Verifier):
            raise ConfigurationError(
                "verifier must implement okta_bearer.Verifier (async verify() and aclose())"
            )
        else:
            owns_verifier = False
        self.verifier: Verifier = verifier
        # A verifier we built is ours to close, when the app shuts down.
        self._owns_verifier = owns_verifier
        self._exact = frozenset(p for p in paths if not p.endswith("/"))
        self._prefixes = tuple(p for p in paths if p.endswith("/"))
        self._optional = bool(optional)
        self._required_scopes = scopes
        self._on_error = on_error
        self._dpop = DPoPGuard(dpop) if dpop is not None else None
        # RFC 9728 section 2: the document says what this deployment does: every
        # issuer accepted, the scopes checked here and by the app (ToolScopes),
        # and whether DPoP is accepted or required.
        if resource is not None:
            resource = resource.describing(
                issuers=issuers_of(verifier),
                scopes=(*scopes, *declared_scopes(self.app)),
                dpop_algorithms=None if dpop is None or dpop.mode == "bearer" else dpop.algorithms,
                dpop_required=dpop is not None and dpop.mode == "required",
            )
        self._resource = resource
        self._metadata_paths = resource.paths if resource is not None else frozenset()

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
        path = _route_path(scope)
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
            token = parse_authorization([v for k, v in headers if k == b"authorization"])
            if b"access_token" in scope.get("query_string", b""):
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

    async def _admit(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        start: float,
        *,
        anonymous: bool,
        scheme: Scheme | None = None,
    ) -> None:
        # Call the app; with metrics, the request is reported once the route
        # starts answering (it may still refuse, as require_scopes does).
        events = self._events
        if events is None:
            await self._call_app(scope, receive, send, scheme)
            return
        seconds = perf_counter() - start
        outcome, reason = ("anonymous", "missing_token") if anonymous else ("ok", "ok")
        await self._call_app(
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
            if b"access_token" in scope.get("query_string", b""):
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
            stop = bool(problems) and self._startup_check == "exit"
            outcome = (
                "stopping (startup_check='exit')"
                if stop
                else "starting anyway; requests get 503 until it is fixed "
                "(startup_check='exit' stops instead)"
            )
            for problem in problems:
                logger.error(
                    "okta_bearer: start-up check failed: %s; %s",
                    problem,
                    outcome,
                    extra={"reason": "startup_check_failed"},
                )
            if stop:
                if self._owns_verifier:
                    await self.verifier.aclose()
                text = "; ".join(problems)
                await send({"type": "lifespan.startup.failed", "message": f"okta_bearer: {text}"})
                return None
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return message

        return replay

    @staticmethod
    def _check_query(scope: Scope, token: str | None) -> None:
        # RFC 6750 section 2.3 is not supported (tokens in URLs leak into logs
        # and history), but sending two methods at once is a malformed request.
        query = scope["query_string"].decode("latin-1")
        if token is not None and any(k == "access_token" for k, _ in parse_qsl(query)):
            raise InvalidRequest("multiple_methods", "Use only one method to send the token")

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
        started = False
        # A WebSocket app that has not read the connect message yet leaves the
        # handshake to the refusal; HTTP requests have no handshake.
        connect_pending = scope["type"] == "websocket"

        async def send_tracking(message: Message) -> None:
            nonlocal started
            if not started:
                started = True
                if admitted is not None:
                    admitted()
            await send(message)

        async def receive_tracking() -> Message:
            nonlocal connect_pending
            message = await receive()
            if message["type"] == "websocket.connect":
                connect_pending = False
            return message

        try:
            await self.app(scope, receive_tracking if connect_pending else receive, send_tracking)
        except BearerError as error:
            if started:
                raise
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
        challenges = None if self._dpop is None else self._challenges(self._dpop, error, scheme)
        if self._on_error is not None:
            try:
                body = self._on_error(error)
                return error_response(error, self._challenge, body, challenges=challenges)
            except Exception:
                # A raising hook, or a body JSON cannot encode: never a 500.
                logger.exception("okta_bearer: on_error failed; the default body was sent")
        return error_response(error, self._challenge, challenges=challenges)

    def _challenges(
        self, guard: DPoPGuard, error: BearerError, scheme: Scheme | None
    ) -> list[tuple[bytes, bytes]]:
        # RFC 9449 section 7.1: one challenge per accepted scheme; the error's
        # attributes go on the scheme the client tried (section 7.2), the
        # other scheme's challenge stays bare.
        # A malformed header (no scheme known) counts as an attempt at the
        # one scheme accepted, or at Bearer when both are.
        settings = self._challenge
        mode = guard.settings.mode
        on_dpop = scheme == "DPoP" or (scheme is None and mode == "required")
        headers: list[tuple[bytes, bytes]] = []
        if mode != "required":
            tried = not on_dpop and error.error is not None
            value = settings.challenge(error) if tried else settings.bare_challenge
            headers.append((b"www-authenticate", value))
        if mode != "bearer":
            # The DPoP challenge takes RFC 6750's parameters (realm, scope,
            # error, error_description) and adds algs (RFC 9449 section 7.1).
            tried = on_dpop and error.error is not None
            bearer = settings.challenge(error) if tried else settings.bare_challenge
            params = bearer.removeprefix(b"Bearer").lstrip(b" ")
            algs = b'DPoP algs="' + " ".join(guard.settings.algorithms).encode("ascii") + b'"'
            headers.append((b"www-authenticate", algs + b", " + params if params else algs))
        if isinstance(error, UseDPoPNonce):
            headers.append((b"dpop-nonce", error.nonce.encode("ascii")))
        return headers


async def _unconfigured(scope: Scope, receive: Receive, send: Send) -> None:
    raise RuntimeError("okta_bearer: BearerAuthMiddleware was given no app")


def _log_refusal(scope: Scope, error: BearerError) -> None:
    level = logging.WARNING if error.status >= 500 else logging.INFO
    if not logger.isEnabledFor(level):
        return
    context = {k: str(v)[:_CONTEXT_LIMIT] for k, v in error.context.items()}
    fields = token_fields(scope)
    # %r on everything the client chose: no newline can forge a second log line.
    logger.log(
        level,
        "okta_bearer: refused %s %r: %d %s (%s)%s",
        scope.get("method", "WEBSOCKET"),
        scope["path"],
        error.status,
        error.error or "no credentials",
        error.reason,
        "".join(f" {k}={v!r}" for k, v in context.items()),
        extra={
            "reason": error.reason,
            "status": error.status,
            "error": error.error,
            "context": context,
            "path": scope["path"],
            **fields,
        },
    )
