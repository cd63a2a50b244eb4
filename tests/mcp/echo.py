"""A stand-in MCP app and a client for ToolScopes behind the middleware, for the unit tests."""

from __future__ import annotations

from typing import Any

import httpx
from starlette.types import ASGIApp, Receive, Scope, Send

from okta_bearer import BearerAuthMiddleware
from okta_bearer.testing import LocalIssuer

RESOURCE = "https://api.example/mcp"


class Echo:
    """Stands in for the MCP app: records the body it received and answers 200."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = b""
        more = True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        self.bodies.append(body)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ran"})


def call(name: str, id_: int = 1) -> dict[str, Any]:
    """A JSON-RPC tools/call message for tool ``name``."""
    return {"jsonrpc": "2.0", "id": id_, "method": "tools/call", "params": {"name": name}}


def protected(issuer: LocalIssuer, app: ASGIApp, **options: Any) -> httpx.AsyncClient:
    """A client of ``app`` behind the middleware (resource RESOURCE, items:read required)."""
    middleware = BearerAuthMiddleware(
        app,
        verifier=issuer.verifier(audience=RESOURCE),
        resource=RESOURCE,
        required_scopes=["items:read"],
        **options,
    )
    transport = httpx.ASGITransport(app=middleware)
    return httpx.AsyncClient(transport=transport, base_url="https://api.example")
