"""ToolScopes: per-tool scopes on JSON-RPC tools/call requests, checked before the MCP app runs."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from okta_bearer import BearerAuthMiddleware, ConfigurationError
from okta_bearer.mcp import ToolScopes
from okta_bearer.testing import LocalIssuer

from ..helpers import bearer
from .echo import RESOURCE, Echo, call, protected

pytestmark = pytest.mark.anyio


@pytest.fixture
async def client(okta_issuer: LocalIssuer, echo: Echo) -> AsyncIterator[httpx.AsyncClient]:
    tools = ToolScopes(echo, {"add_item": ["items:write"], "purge": ["items:write", "admin"]})
    async with protected(okta_issuer, tools, optional=True) as c:
        yield c


def token(issuer: LocalIssuer, *scopes: str) -> dict[str, str]:
    return bearer(issuer.mint(aud=RESOURCE, scp=list(scopes)))


async def test_listed_tool_without_its_scope_is_403(
    client: httpx.AsyncClient, okta_issuer: LocalIssuer, echo: Echo
) -> None:
    """The call never reaches the app; the 403 names the middleware's and the tool's scopes."""
    response = await client.post(
        "/mcp", json=call("purge"), headers=token(okta_issuer, "items:read", "items:write")
    )
    assert response.status_code == 403
    challenge = response.headers["www-authenticate"]
    assert 'scope="items:read items:write admin"' in challenge
    assert echo.bodies == []


async def test_listed_tool_with_its_scope_runs_with_the_same_body(
    client: httpx.AsyncClient, okta_issuer: LocalIssuer, echo: Echo
) -> None:
    """With the scope the request goes through and the app reads the body unchanged."""
    body = json.dumps(call("add_item")).encode()
    response = await client.post(
        "/mcp",
        content=body,
        headers=token(okta_issuer, "items:read", "items:write")
        | {"content-type": "application/json"},
    )
    assert (response.status_code, echo.bodies) == (200, [body])


@pytest.mark.parametrize(
    "payload",
    [
        call("list_items"),
        {"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
        {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": "add_item"},
        [1, "x"],
    ],
)
async def test_other_messages_pass(
    client: httpx.AsyncClient, okta_issuer: LocalIssuer, echo: Echo, payload: Any
) -> None:
    """Unlisted tools, other methods and odd shapes are left to the MCP app."""
    response = await client.post("/mcp", json=payload, headers=token(okta_issuer, "items:read"))
    assert response.status_code == 200
    assert len(echo.bodies) == 1


async def test_a_batch_is_checked_message_by_message(
    client: httpx.AsyncClient, okta_issuer: LocalIssuer
) -> None:
    """A listed tool hidden in a JSON-RPC batch is still refused."""
    batch = [call("list_items", 1), call("add_item", 2)]
    response = await client.post("/mcp", json=batch, headers=token(okta_issuer, "items:read"))
    assert response.status_code == 403


async def test_duplicate_keys_are_400(
    client: httpx.AsyncClient, okta_issuer: LocalIssuer, echo: Echo
) -> None:
    """Two 'name' keys could be read differently by two parsers: refused with 400."""
    body = (
        b'{"jsonrpc":"2.0","id":1,"method":"tools/call",'
        b'"params":{"name":"list_items","name":"add_item"}}'
    )
    response = await client.post(
        "/mcp",
        content=body,
        headers=token(okta_issuer, "items:read") | {"content-type": "application/json"},
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"
    assert echo.bodies == []


async def test_deeply_nested_json_is_400(
    client: httpx.AsyncClient, okta_issuer: LocalIssuer, echo: Echo
) -> None:
    """A body nested past the parser's recursion limit is a 400, never a 500."""
    body = b"[" * 100_000 + b"]" * 100_000
    response = await client.post(
        "/mcp",
        content=body,
        headers=token(okta_issuer, "items:read") | {"content-type": "application/json"},
    )
    assert (response.status_code, echo.bodies) == (400, [])


@pytest.mark.parametrize(
    "body",
    [
        b"{nope",
        b"",
        b'{"method":"tools/call","params":{"name":"add_item"}} trailing',
        b'{"method":"tools/call","params":{"name":"add_\xff"}}',
        b"\x1f\x8b\x08\x00",  # gzip magic: an encoded body is not read, so it is refused
    ],
)
async def test_unreadable_body_is_400(
    client: httpx.AsyncClient, okta_issuer: LocalIssuer, echo: Echo, body: bytes
) -> None:
    """Fail closed: a body the check cannot parse never reaches the MCP app's parser."""
    response = await client.post("/mcp", content=body, headers=token(okta_issuer, "items:read"))
    assert (response.status_code, echo.bodies) == (400, [])


async def test_oversized_body_is_413(okta_issuer: LocalIssuer, echo: Echo) -> None:
    """A body past max_body is refused without reaching the app."""
    app = BearerAuthMiddleware(
        ToolScopes(echo, {"add_item": ["items:write"]}, max_body=1024),
        verifier=okta_issuer.verifier(),
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        response = await c.post("/mcp", content=b"x" * 2048, headers=bearer(okta_issuer.mint()))
    assert (response.status_code, echo.bodies) == (413, [])


async def test_anonymous_call_to_a_listed_tool_is_401(client: httpx.AsyncClient) -> None:
    """In optional mode an anonymous caller of a scoped tool gets the bare 401 challenge."""
    response = await client.post("/mcp", json=call("add_item"))
    assert response.status_code == 401
    assert "resource_metadata=" in response.headers["www-authenticate"]


@pytest.mark.parametrize(
    ("table", "options"),
    [
        ({"t": "items:write"}, {}),
        ({"t": [""]}, {}),
        ({"t": ["s"]}, {"max_body": 10}),
    ],
)
def test_bad_configuration(table: dict[str, Any], options: dict[str, Any]) -> None:
    """A scope string instead of a list, an empty scope or a tiny max_body is refused."""
    with pytest.raises(ConfigurationError):
        ToolScopes(Echo(), table, **options)
