"""A key server that misbehaves on demand, and the API it is supposed to serve.

:class:`FaultyKeyServer` is an httpx transport in front of
:meth:`LocalIssuer.handler`.  ``server.faults["jwks"] = ...`` (or
``"discovery"``) replaces the answer for that kind of request with a fault:
an error status, a redirect, garbage, a huge body, an exception, or a
request that is accepted and never answered.  Every request is logged with
the fake time it arrived at, so tests can count fetches per cool-down window.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from okta_bearer import BearerAuthMiddleware, KeyPolicy, TokenVerifier
from okta_bearer.testing import LocalIssuer

from ..helpers import Clock

Fault = Callable[[httpx.Request], Awaitable[httpx.Response]]
ISSUER = "https://okta.example.test/oauth2/default"
AUDIENCE = "api://default"
EVIL_HOST = "evil.example"


class FaultyKeyServer(httpx.AsyncBaseTransport):
    """The issuer's discovery and JWKS endpoints, with faults switched on per kind."""

    def __init__(self, issuer: LocalIssuer, clock: Clock) -> None:
        self.issuer = issuer
        self.clock = clock
        #: kind ("discovery" or "jwks") -> the fault answering it instead of the issuer.
        self.faults: dict[str, Fault] = {}
        #: path suffix -> fault, for one URL among a kind (one discovery location, say).
        self.path_faults: dict[str, Fault] = {}
        #: Every request received, as sent.
        self.requests: list[httpx.Request] = []
        #: (kind, host, fake time) of every request received.
        self.log: list[tuple[str, str, float]] = []
        #: Set while a request is being held by :func:`gated`.
        self.held = asyncio.Event()

    @staticmethod
    def kind(request: httpx.Request) -> str:
        """Which endpoint a request is for."""
        path = request.url.path
        if path.endswith("/v1/keys"):
            return "jwks"
        if "/.well-known/" in path:
            return "discovery"
        return "other"

    def count(self, kind: str) -> int:
        """How many requests of ``kind`` arrived."""
        return sum(1 for k, _, _ in self.log if k == kind)

    def hosts(self) -> set[str]:
        """Every host a request was sent to."""
        return {host for _, host, _ in self.log}

    def times(self, kind: str) -> list[float]:
        """The fake times at which requests of ``kind`` arrived."""
        return [t for k, _, t in self.log if k == kind]

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Answer like the issuer, unless a fault is set for this kind of request."""
        kind = self.kind(request)
        self.log.append((kind, request.url.host, self.clock()))
        self.requests.append(request)
        fault = self.faults.get(kind)
        for suffix, path_fault in self.path_faults.items():
            if request.url.path.endswith(suffix):
                fault = path_fault
        if fault is not None and request.url.host == httpx.URL(ISSUER).host:
            return await fault(request)
        return self.issuer.handler(request)


# -- faults -------------------------------------------------------------------


def status(code: int, **headers: str) -> Fault:
    """Answer with an HTTP status and a small JSON body."""

    async def fault(request: httpx.Request) -> httpx.Response:
        return httpx.Response(code, json={"errorCode": "E0000009"}, headers=headers)

    return fault


def redirect(location: str) -> Fault:
    """Answer 302 to ``location`` (which must never be followed)."""
    return status(302, location=location)


def body(content: bytes, **headers: str) -> Fault:
    """Answer 200 with these exact bytes."""

    async def fault(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=content, headers=headers)

    return fault


def json_doc(document: Any) -> Fault:
    """Answer 200 with a JSON document."""

    async def fault(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=document)

    return fault


class _Chunks(httpx.AsyncByteStream):
    def __init__(self, size: int) -> None:
        self.size = size
        self.sent = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        chunk = b" " * 65536
        while self.sent < self.size:
            self.sent += len(chunk)
            yield chunk


def streamed(size: int) -> Fault:
    """Answer 200 with ``size`` bytes streamed in chunks, with no Content-Length."""

    async def fault(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, stream=_Chunks(size))

    return fault


def raises(exc_type: type[Exception]) -> Fault:
    """Fail at the transport level (timeout, refused connection...) or with any exception."""

    async def fault(request: httpx.Request) -> httpx.Response:
        if issubclass(exc_type, httpx.RequestError):
            raise exc_type("simulated", request=request)
        raise exc_type("simulated")

    return fault


def never_answers(server: FaultyKeyServer) -> Fault:
    """Accept the request and never answer it (until cancelled)."""

    async def fault(request: httpx.Request) -> httpx.Response:
        server.held.set()
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    return fault


def gated(server: FaultyKeyServer, gate: asyncio.Event) -> Fault:
    """Hold the request until ``gate`` is set, then answer like the issuer."""

    async def fault(request: httpx.Request) -> httpx.Response:
        server.held.set()
        await gate.wait()
        return server.issuer.handler(request)

    return fault


# -- the protected API ----------------------------------------------------------


async def whoami(request: Request) -> JSONResponse:
    """The protected endpoint."""
    return JSONResponse({"sub": request.user.identity})


class Entered:
    """An ASGI wrapper counting the requests that have reached the middleware."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.count = 0
        #: Set once ``count`` reaches ``target``.
        self.target = 0
        self.reached = asyncio.Event()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            self.count += 1
            if self.target and self.count >= self.target:
                self.reached.set()
        await self.app(scope, receive, send)


class World:
    """An issuer, its faulty key server, a fake clock and a verifier wired together."""

    def __init__(self, clock: Clock, issuer: LocalIssuer, server: FaultyKeyServer) -> None:
        self.clock = clock
        self.issuer = issuer
        self.server = server
        self.verifier: TokenVerifier
        self.client: httpx.AsyncClient
        self.entered: Entered

    def token(self, **claims: Any) -> str:
        """A fresh valid token (distinct jti, so never a token-cache hit)."""
        return self.issuer.mint(**claims)

    async def get(self, token: str | None) -> httpx.Response:
        """Call the protected API with ``token``."""
        headers = {"authorization": f"Bearer {token}"} if token else {}
        return await self.client.get("/", headers=headers)


def policy(**fields: Any) -> KeyPolicy:
    """A KeyPolicy with the harness's short timeout (0.2 s) and ``fields`` changed."""
    fields.setdefault("timeout", 0.2)
    return KeyPolicy(**fields)


class BothFaces(httpx.AsyncBaseTransport, httpx.BaseTransport):
    """A :class:`FaultyKeyServer` for both sides of a verifier (a WSGI driver calls verify_sync).

    The sync side awaits each answer in an event loop of its own (the WSGI
    request runs in a worker thread) and gives up on a silent server at the
    read timeout the request carries, as a real transport does.
    """

    def __init__(self, server: FaultyKeyServer) -> None:
        self.server = server

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """The async side: the key server itself."""
        return await self.server.handle_async_request(request)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """The sync side: the same answer, awaited in this thread."""
        timeout = request.extensions.get("timeout", {}).get("read") or 5.0
        try:
            status, headers, body = asyncio.run(asyncio.wait_for(self._answer(request), timeout))
        except TimeoutError as exc:
            raise httpx.ReadTimeout("no answer", request=request) from exc
        return httpx.Response(status, headers=headers, stream=httpx.ByteStream(body))

    async def _answer(self, request: httpx.Request) -> tuple[int, httpx.Headers, bytes]:
        response = await self.server.handle_async_request(request)
        return response.status_code, response.headers, await response.aread()


class _DriverClient:
    """``get(path, headers=...)`` over a web driver's app, as on an httpx client."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def get(self, path: str, *, headers: dict[str, str]) -> httpx.Response:
        """Send ``GET path``."""
        raw = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
        response: httpx.Response = await self.app.request("GET", path, raw)
        return response


@asynccontextmanager
async def world(driver: str | None = None, **verifier_options: Any) -> AsyncIterator[World]:
    """A fresh issuer, faulty key server and protected API (small timeout by default).

    ``driver`` names a framework of ``tests.web_drivers.DRIVERS`` to serve the
    API with (``None``: the middleware over Starlette, counted by ``entered``).
    """
    clock = Clock()
    issuer = LocalIssuer(ISSUER, AUDIENCE, clock=clock)
    server = FaultyKeyServer(issuer, clock)
    w = World(clock, issuer, server)
    verifier_options.setdefault("keys", policy())
    if driver is not None:
        from ..web_drivers import DRIVERS

        both = BothFaces(server)
        w.verifier = TokenVerifier(
            ISSUER, AUDIENCE, transport=both, clock=clock, **verifier_options
        )
        try:
            async with DRIVERS[driver](w.verifier) as app:
                w.client = _DriverClient(app)  # type: ignore[assignment]
                yield w
        finally:
            await w.verifier.aclose()
        return
    w.verifier = TokenVerifier(ISSUER, AUDIENCE, transport=server, clock=clock, **verifier_options)
    w.entered = Entered(
        BearerAuthMiddleware(Starlette(routes=[Route("/", whoami)]), verifier=w.verifier)
    )
    transport = httpx.ASGITransport(app=w.entered)
    async with httpx.AsyncClient(transport=transport, base_url="http://api.test") as client:
        w.client = client
        try:
            yield w
        finally:
            await w.verifier.aclose()
