"""How BearerAuthMiddleware answers and logs refusals, including errors raised inside the app."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, MutableMapping
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, StreamingResponse
from starlette.routing import Route, WebSocketRoute
from starlette.types import Message
from starlette.websockets import WebSocket

from okta_bearer import (
    BearerAuthMiddleware,
    BearerError,
    Claims,
    ConfigurationError,
    InsufficientScope,
    KeysUnavailable,
    MissingToken,
)
from okta_bearer.testing import LocalIssuer

from .helpers import bearer

pytestmark = pytest.mark.anyio


async def needs_admin(request: Request) -> PlainTextResponse:
    raise InsufficientScope(["admin"], request.auth.scopes)


async def needs_login(request: Request) -> PlainTextResponse:
    raise MissingToken()


def build(issuer: LocalIssuer, **options: Any) -> Starlette:
    return Starlette(
        routes=[
            Route("/public/admin", needs_admin),
            Route("/public/login", needs_login),
            Route("/admin", needs_admin),
        ],
        middleware=[Middleware(BearerAuthMiddleware, verifier=issuer.verifier(), **options)],
    )


def client_for(app: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api")


async def test_bearer_error_on_a_public_path_is_answered(okta_issuer: LocalIssuer) -> None:
    """A BearerError raised by the app on a public path becomes its RFC 6750 answer, not a 500."""
    async with client_for(build(okta_issuer, public_paths=["/public/"])) as c:
        login = await c.get("/public/login")
        admin = await c.get("/public/admin")
    assert login.status_code == 401
    assert login.headers["www-authenticate"] == 'Bearer realm="api"'
    assert admin.status_code == 403
    assert 'error="insufficient_scope"' in admin.headers["www-authenticate"]


async def test_bearer_error_in_optional_mode_is_answered(okta_issuer: LocalIssuer) -> None:
    """In optional mode an anonymous request reaching a route that raises MissingToken gets 401."""
    async with client_for(build(okta_issuer, optional=True)) as c:
        response = await c.get("/public/login")
    assert response.status_code == 401
    assert response.json() == {"error": None, "error_description": "Bearer token required"}


async def test_insufficient_scope_body_names_the_missing_scopes(okta_issuer: LocalIssuer) -> None:
    """A 403 body lists the missing scope(s); the challenge lists the required ones."""
    async with client_for(build(okta_issuer)) as c:
        response = await c.get("/admin", headers=bearer(okta_issuer.mint()))
    assert response.status_code == 403
    assert response.json() == {
        "error": "insufficient_scope",
        "error_description": "The token lacks a required scope",
        "missing_scope": "admin",
    }
    assert response.headers["www-authenticate"].endswith('scope="admin"')


async def test_no_second_response_start_after_the_app_started(okta_issuer: LocalIssuer) -> None:
    """A BearerError raised once the app started its response is re-raised, not answered twice."""

    async def chunks() -> Any:
        yield b"partial"
        raise InsufficientScope(["admin"])

    async def streaming(request: Request) -> StreamingResponse:
        return StreamingResponse(chunks())

    middleware = BearerAuthMiddleware(
        Starlette(routes=[Route("/s", streaming)]), verifier=okta_issuer.verifier()
    )
    sent: list[Message] = []

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(dict(message))

    requests = [{"type": "http.request", "body": b"", "more_body": False}]

    async def receive() -> dict[str, Any]:
        if requests:
            return requests.pop()
        await asyncio.Event().wait()  # the client stays connected
        raise AssertionError("unreachable")

    scope = {
        "type": "http",
        "method": "GET",
        "path": "/s",
        "root_path": "",
        "query_string": b"",
        "headers": [(b"authorization", f"Bearer {okta_issuer.mint()}".encode())],
    }
    with pytest.raises(InsufficientScope):
        await middleware(scope, receive, send)
    starts = [m for m in sent if m["type"] == "http.response.start"]
    assert len(starts) == 1
    assert starts[0]["status"] == 200


async def test_websocket_error_after_connect_was_read_refuses_without_waiting(
    okta_issuer: LocalIssuer,
) -> None:
    """A BearerError raised after the app read websocket.connect is refused at once (no hang)."""

    async def endpoint(websocket: WebSocket) -> None:
        await websocket.receive()  # reads websocket.connect
        raise InsufficientScope(["admin"])

    middleware = BearerAuthMiddleware(
        Starlette(routes=[WebSocketRoute("/ws", endpoint)]), verifier=okta_issuer.verifier()
    )
    incoming = [{"type": "websocket.connect"}]
    sent: list[Message] = []

    async def receive() -> dict[str, Any]:
        assert incoming, "the middleware waited for a message that will never come"
        return incoming.pop(0)

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(dict(message))

    scope = {
        "type": "websocket",
        "path": "/ws",
        "root_path": "",
        "query_string": b"",
        "headers": [(b"authorization", f"Bearer {okta_issuer.mint()}".encode())],
        "extensions": {"websocket.http.response": {}},
    }
    await middleware(scope, receive, send)
    assert [m["type"] for m in sent] == [
        "websocket.http.response.start",
        "websocket.http.response.body",
    ]
    assert sent[0]["status"] == 403


async def test_on_error_replaces_only_the_body(okta_issuer: LocalIssuer) -> None:
    """on_error chooses the JSON body; status, challenge and no-store stay as RFC 6750 wants."""

    def problem(error: BearerError) -> dict[str, Any]:
        return {"type": "about:blank", "title": error.reason, "status": error.status}

    async with client_for(build(okta_issuer, on_error=problem)) as c:
        response = await c.get("/admin", headers=bearer(okta_issuer.mint(exp=1)))
    assert response.status_code == 401
    assert response.json() == {"type": "about:blank", "title": "expired", "status": 401}
    assert response.headers["www-authenticate"].startswith('Bearer realm="api", error=')
    assert response.headers["cache-control"] == "no-store"


async def test_failing_on_error_falls_back_to_the_default_body(
    okta_issuer: LocalIssuer, caplog: pytest.LogCaptureFixture
) -> None:
    """An on_error hook that raises is logged and the default body is sent (never a 500)."""

    def broken(error: BearerError) -> dict[str, Any]:
        raise ValueError("bug in the hook")

    async with client_for(build(okta_issuer, on_error=broken)) as c:
        response = await c.get("/admin")
    assert response.status_code == 401
    assert response.json() == {"error": None, "error_description": "Bearer token required"}
    assert "on_error failed" in caplog.text


async def test_refusals_are_logged_with_reason_and_context(
    okta_issuer: LocalIssuer, caplog: pytest.LogCaptureFixture
) -> None:
    """Each refusal is logged at INFO on okta_bearer: reason, expected/got, and extra fields."""
    caplog.set_level(logging.INFO, logger="okta_bearer")
    token = okta_issuer.mint(aud="api://other")
    async with client_for(build(okta_issuer)) as c:
        await c.get("/admin", headers=bearer(token))
        await c.get("/admin", headers=bearer(okta_issuer.mint()))
    wrong_aud, no_scope = (r for r in caplog.records if r.name == "okta_bearer")
    assert wrong_aud.levelno == logging.INFO
    assert wrong_aud.getMessage() == (
        "okta_bearer: refused GET '/admin': 401 invalid_token (bad_audience)"
        " expected='api://default' got='api://other'"
    )
    assert wrong_aud.__dict__["reason"] == "bad_audience"
    assert wrong_aud.__dict__["status"] == 401
    assert wrong_aud.__dict__["context"] == {"expected": "api://default", "got": "api://other"}
    assert "missing='admin'" in no_scope.getMessage()
    assert no_scope.__dict__["status"] == 403
    for segment in token.split("."):
        assert segment[:20] not in caplog.text


async def test_log_lines_cannot_be_forged_through_the_path(
    okta_issuer: LocalIssuer, caplog: pytest.LogCaptureFixture
) -> None:
    """A newline in the requested path is escaped in the refusal's log line."""
    caplog.set_level(logging.INFO, logger="okta_bearer")
    async with client_for(build(okta_issuer)) as c:
        await c.get("/admin%0AINFO%20forged")
    (record,) = caplog.records
    assert "\n" not in record.getMessage()


async def test_configuration_error_built_lazily_fails_lifespan_startup() -> None:
    """Built inside a running loop (as Starlette does), a bad option fails lifespan start-up."""
    app = Starlette(
        middleware=[Middleware(BearerAuthMiddleware, issuer="https://x.example", realm='"')]
    )
    sent: list[Message] = []
    incoming = [{"type": "lifespan.startup"}]

    async def receive() -> dict[str, Any]:
        return incoming.pop(0)

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(dict(message))

    await app({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}, receive, send)
    assert sent[0]["type"] == "lifespan.startup.failed"
    assert "realm" in sent[0]["message"]
    assert "ConfigurationError" in sent[0]["message"]
    async with client_for(app) as c:
        with pytest.raises(ConfigurationError, match="realm"):
            await c.get("/")


async def test_unencodable_on_error_body_falls_back(okta_issuer: LocalIssuer) -> None:
    """An on_error body JSON cannot encode is replaced by the default body, never a 500."""

    def unencodable(error: BearerError) -> dict[str, Any]:
        return {"when": object()}

    async with client_for(build(okta_issuer, on_error=unencodable)) as c:
        response = await c.get("/admin")
    assert response.status_code == 401
    assert response.json()["error"] is None


class KeysDown:
    """A Verifier whose issuer cannot be reached."""

    async def verify(self, token: str, required_scopes: Iterable[str] = ()) -> Claims:
        raise KeysUnavailable("keys_unavailable", "Signing keys are unavailable")

    async def aclose(self) -> None:
        pass


async def test_unavailable_keys_are_logged_as_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    """A 503 refusal is logged at WARNING: it is an outage, not a client's mistake."""
    caplog.set_level(logging.INFO, logger="okta_bearer")
    app = BearerAuthMiddleware(Starlette(), verifier=KeysDown())
    async with client_for(app) as c:
        assert (await c.get("/x", headers=bearer("a.b.c"))).status_code == 503
    (record,) = caplog.records
    assert record.levelno == logging.WARNING
    assert record.__dict__["reason"] == "keys_unavailable"
