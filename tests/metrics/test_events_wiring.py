"""The core calls the Events hooks: middleware outcomes, verifier caches, key fetches, the fleet."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route, WebSocketRoute
from starlette.testclient import TestClient
from starlette.websockets import WebSocket

from okta_bearer import (
    BearerAuthMiddleware,
    ConfigurationError,
    InsufficientScope,
    IntrospectionVerifier,
    TokenVerifier,
)
from okta_bearer._events import Events
from okta_bearer._store.memory import MemoryStore
from okta_bearer.testing import LocalIssuer

from ..helpers import bearer

pytestmark = pytest.mark.anyio


class Recorder(Events):
    """Keeps every hook call, in order."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str]] = []
        self.fetches: list[tuple[str, str, bool]] = []
        self.caches: list[tuple[str, bool]] = []

    def request(self, outcome: str, reason: str, seconds: float) -> None:
        assert seconds >= 0
        self.requests.append((outcome, reason))

    def fetch(self, kind: str, issuer: str, ok: bool, seconds: float) -> None:
        self.fetches.append((kind, issuer, ok))

    def cache(self, kind: str, hit: bool) -> None:
        self.caches.append((kind, hit))


async def admin(request: Request) -> PlainTextResponse:
    """A route that refuses every token (as require_scopes would)."""
    raise InsufficientScope(["admin"])


async def hello(request: Request) -> PlainTextResponse:
    """Answers anyone the middleware lets through."""
    return PlainTextResponse("hello")


async def bare_app(scope: Any, receive: Any, send: Any) -> None:
    """An ASGI app that is never reached."""


async def socket(websocket: WebSocket) -> None:
    """Accepts, then closes."""
    await websocket.accept()
    await websocket.close()


def client(local: LocalIssuer, events: Events, **options: Any) -> TestClient:
    """A Starlette app behind the middleware, reporting to ``events``."""
    middleware = Middleware(
        BearerAuthMiddleware, verifier=local.verifier(), events=events, **options
    )
    routes = [Route("/hello", hello), Route("/admin", admin), WebSocketRoute("/ws", socket)]
    return TestClient(Starlette(routes=routes, middleware=[middleware]))


def test_middleware_reports_each_request_once_with_its_outcome() -> None:
    """ok, refusals before verification, a verifier refusal and a route refusal: one report each."""
    local, events = LocalIssuer(), Recorder()
    with client(local, events) as http:
        assert http.get("/hello", headers=bearer(local.mint())).status_code == 200
        assert http.get("/hello").status_code == 401
        assert http.get("/hello", headers={"Authorization": "Bearer"}).status_code == 400
        assert http.get("/hello", headers=bearer(local.mint(aud="api://other"))).status_code == 401
        assert http.get("/admin", headers=bearer(local.mint())).status_code == 403
    assert events.requests == [
        ("ok", "ok"),
        ("missing_token", "missing_token"),
        ("invalid_request", "empty_token"),
        ("invalid_token", "bad_audience"),
        ("insufficient_scope", "missing_scope"),
    ]


def test_optional_anonymous_and_websocket_requests_are_reported() -> None:
    """An anonymous request lets through is 'anonymous'; an admitted WebSocket is 'ok'."""
    local, events = LocalIssuer(), Recorder()
    with client(local, events, optional=True) as http:
        assert http.get("/hello").status_code == 200
        with http.websocket_connect("/ws", headers=bearer(local.mint())):
            pass
    assert events.requests == [("anonymous", "missing_token"), ("ok", "ok")]


def test_public_paths_are_not_reported() -> None:
    """A request on a public path is not judged, so it is not counted."""
    local, events = LocalIssuer(), Recorder()
    with client(local, events, public_paths=["/hello"]) as http:
        assert http.get("/hello").status_code == 200
    assert events.requests == []


def test_middleware_built_verifier_reports_to_the_same_events() -> None:
    """With issuer= and audience=, the verifier the middleware builds gets its events."""
    events = Recorder()
    middleware = BearerAuthMiddleware(
        bare_app,
        issuer="https://okta.example.test/oauth2/default",
        audience="api://x",
        events=events,
    )
    assert isinstance(middleware.verifier, TokenVerifier)
    assert middleware.verifier._events is events


async def test_token_verifier_reports_caches_and_fetches() -> None:
    """A cold verify fetches discovery and keys (reported ok), a repeat hits the token cache."""
    local, events = LocalIssuer(), Recorder()
    async with local.verifier(events=events) as verifier:
        token = local.mint()
        await verifier.verify(token)
        await verifier.verify(token)
        await verifier.verify(local.mint())
    assert events.fetches == [("discovery", local.issuer, True), ("jwks", local.issuer, True)]
    assert events.caches == [
        ("token", False),
        ("keys", False),
        ("token", True),
        ("token", False),
        ("keys", True),
    ]


async def test_failed_key_fetch_is_reported() -> None:
    """A JWKS endpoint answering 500 is a failed 'jwks' fetch."""
    local, events = LocalIssuer(), Recorder()

    def failing(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/v1/keys"):
            return httpx.Response(500)
        return local.handler(request)

    verifier = local.verifier(events=events, transport=httpx.MockTransport(failing))
    async with verifier:
        with pytest.raises(Exception, match="Signing keys are unavailable"):
            await verifier.verify(local.mint())
    assert events.fetches == [("discovery", local.issuer, True), ("jwks", local.issuer, False)]


async def test_fleet_adoption_is_a_shared_hit() -> None:
    """The first process fetches (a shared miss); a second adopts its key set (a shared hit)."""
    local, store = LocalIssuer(), MemoryStore()
    first, second = Recorder(), Recorder()
    async with (
        local.verifier(events=first, store=store) as one,
        local.verifier(events=second, store=store) as two,
    ):
        token = local.mint()
        await one.verify(token)
        await two.verify(token)
    assert ("keys_shared", False) in first.caches
    assert ("keys_shared", True) in second.caches
    assert [kind for kind, _, _ in second.fetches] == []  # adopted: no request to the issuer
    assert local.count("/v1/keys") == 1


@pytest.mark.parametrize(
    "build",
    [
        lambda e: BearerAuthMiddleware(
            bare_app, issuer="https://i.example", audience="a", events=e
        ),
        lambda e: TokenVerifier("https://i.example", "a", events=e),
        lambda e: IntrospectionVerifier(
            "https://i.example", "a", client_id="c", client_secret="s", events=e
        ),
    ],
    ids=["middleware", "TokenVerifier", "IntrospectionVerifier"],
)
def test_events_must_be_events(build: object) -> None:
    """Anything but an Events (or None) is a ConfigurationError naming the option."""
    with pytest.raises(ConfigurationError, match="events must be"):
        build(object())  # type: ignore[operator]
