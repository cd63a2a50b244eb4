"""The README's "Protect an MCP server" example runs as written."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from okta_bearer import BearerAuthMiddleware

pytestmark = pytest.mark.anyio
README = Path(__file__).resolve().parents[2] / "README.md"


def mcp_example() -> str:
    section = README.read_text().split("## Protect an MCP server", 1)[1]
    match = re.search(r"```python\n(.*?)```", section, flags=re.DOTALL)
    assert match is not None
    return match.group(1)


async def test_readme_mcp_example_serves_metadata_and_challenges() -> None:
    """The example serves its RFC 9728 document (table scopes included) and challenges anonymity."""
    namespace: dict[str, Any] = {}
    exec(compile(mcp_example(), "README.md", "exec"), namespace)  # noqa: S102 - our own README
    app = namespace["app"]
    assert isinstance(app, BearerAuthMiddleware)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="https://api.example") as c:
        doc = await c.get("/.well-known/oauth-protected-resource/mcp")
        denied = await c.post("/mcp", json={})
    assert doc.json()["resource"] == "https://api.example/mcp"
    assert doc.json()["authorization_servers"] == ["https://dev-123456.okta.com/oauth2/default"]
    assert doc.json()["scopes_supported"] == ["items:read", "items:write"]  # from the table
    assert denied.status_code == 401
    assert denied.headers["www-authenticate"] == (
        'Bearer realm="api", scope="items:read", resource_metadata='
        '"https://api.example/.well-known/oauth-protected-resource/mcp"'
    )
