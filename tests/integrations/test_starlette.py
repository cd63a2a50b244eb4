"""Starlette: request.user, request.auth and @requires work unchanged; so do WebSockets."""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.authentication import requires
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

from okta_bearer import BearerAuthMiddleware
from okta_bearer.testing import LocalIssuer

pytestmark = pytest.mark.anyio


@requires("items:read")
async def items(request: Request) -> JSONResponse:
    return JSONResponse({"user": request.user.display_name, "scopes": sorted(request.auth.scopes)})


@requires("items:write")
async def write(request: Request) -> JSONResponse:
    return JSONResponse({"ok": True})


async def socket(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.send_text(websocket.user.display_name)
    await websocket.close()


def build(issuer: LocalIssuer) -> Starlette:
    return Starlette(
        routes=[Route("/items", items), Route("/write", write), WebSocketRoute("/ws", socket)],
        middleware=[Middleware(BearerAuthMiddleware, verifier=issuer.verifier())],
    )


async def test_requires_decorator(okta_issuer: LocalIssuer) -> None:
    """@requires sees the token's scopes through request.auth."""
    app = build(okta_issuer)
    headers = {"Authorization": f"Bearer {okta_issuer.mint()}"}
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://api"
    ) as c:
        ok = await c.get("/items", headers=headers)
        denied = await c.get("/write", headers=headers)
    assert ok.json() == {"user": "alice@example.com", "scopes": ["items:read", "openid"]}
    assert denied.status_code == 403  # Starlette's own 403 from @requires


class WebSocketHarness:
    """Drives one WebSocket handshake against an ASGI app and records what it sends."""

    def __init__(self, headers: list[tuple[bytes, bytes]], *, denial_extension: bool) -> None:
        self.scope: dict[str, Any] = {
            "type": "websocket",
            "path": "/ws",
            "raw_path": b"/ws",
            "root_path": "",
            "scheme": "ws",
            "query_string": b"",
            "headers": headers,
            "server": ("127.0.0.1", 80),
            "client": ("127.0.0.1", 5000),
            "subprotocols": [],
            "extensions": {"websocket.http.response": {}} if denial_extension else {},
        }
        self.incoming: list[dict[str, Any]] = [{"type": "websocket.connect"}]
        self.sent: list[dict[str, Any]] = []

    async def receive(self) -> dict[str, Any]:
        if self.incoming:
            return self.incoming.pop(0)
        return {"type": "websocket.disconnect", "code": 1000}

    async def send(self, message: MutableMapping[str, Any]) -> None:
        self.sent.append(dict(message))

    async def run(self, app: Starlette) -> list[dict[str, Any]]:
        await app(self.scope, self.receive, self.send)
        return self.sent


async def test_websocket_with_valid_token_is_accepted(okta_issuer: LocalIssuer) -> None:
    """A WebSocket with a valid token is accepted and sees websocket.user."""
    harness = WebSocketHarness(
        [(b"authorization", f"Bearer {okta_issuer.mint()}".encode())], denial_extension=True
    )
    sent = await harness.run(build(okta_issuer))
    assert sent[0]["type"] == "websocket.accept"
    assert sent[1] == {"type": "websocket.send", "text": "alice@example.com"}


async def test_websocket_denied_with_http_response(okta_issuer: LocalIssuer) -> None:
    """Without a token the handshake is refused with an HTTP 401 before any accept."""
    harness = WebSocketHarness([], denial_extension=True)
    sent = await harness.run(build(okta_issuer))
    assert sent[0]["type"] == "websocket.http.response.start"
    assert sent[0]["status"] == 401
    assert (b"www-authenticate", b'Bearer realm="api"') in sent[0]["headers"]
    assert all(m["type"] != "websocket.accept" for m in sent)


async def test_websocket_invalid_token_closes_1008_without_extension(
    okta_issuer: LocalIssuer,
) -> None:
    """Servers without the denial extension get a policy-violation close (1008), no accept."""
    token = okta_issuer.mint(exp=1)
    harness = WebSocketHarness(
        [(b"authorization", f"Bearer {token}".encode())], denial_extension=False
    )
    sent = await harness.run(build(okta_issuer))
    assert sent == [{"type": "websocket.close", "code": 1008}]
