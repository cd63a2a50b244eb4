"""An MCP server over streamable HTTP, protected by okta_bearer, with per-tool scopes.

Run it (``pip install -e '.[mcp,dev]'``) with its own dev issuer in one process::

    python examples/mcp_server.py      # dev issuer on :9400, MCP server on :9403
    python examples/mcp_server.py --issuer-port 9500 --port 9503   # other ports

then point any MCP client at ``http://127.0.0.1:9403/mcp``.  It gets a 401
naming ``/.well-known/oauth-protected-resource/mcp``, finds the dev issuer
there, registers itself (RFC 7591), signs in as alice@example.com /
wonderland with ``resource=http://127.0.0.1:9403/mcp`` (RFC 8707), and
calls tools.  Against a real Okta org, build the app with :func:`create_app`
and an authorization server whose audience is the MCP server's URL.

Tools:

* ``list_items``: needs ``items:read`` (every request needs it).
* ``add_item``: needs ``items:write`` as well; without it the call is a 403
  whose challenge names both scopes, and the client asks for them.
* ``remove_item``: needs ``items:write`` and a two-factor sign-in at most five
  minutes old (RFC 9470 step-up); otherwise the call is a 401
  ``insufficient_user_authentication`` naming ``acr_values`` and ``max_age``,
  and a client that passes them to the authorization server gets the user
  to sign in again.

The table ``TOOLS`` drives both the checks and the RFC 9728 document's
``scopes_supported``.
"""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from mcp.server.mcpserver import Context, MCPServer
from starlette.types import ASGIApp

from okta_bearer import BearerAuthMiddleware, ProtectedResource
from okta_bearer.dev_issuer import DevIssuer
from okta_bearer.mcp import ToolRequirement, ToolScopes, claims_of
from okta_bearer.testing import LocalIssuer

#: Okta's "any two factors" authentication context class (the dev issuer's too).
TWO_FACTOR = "urn:okta:loa:2fa:any"
#: What each tool needs, beyond ``items:read``: one table for checks and metadata.
TOOLS = {
    "add_item": ToolRequirement(["items:write"]),
    "remove_item": ToolRequirement(["items:write"], acr_values=[TWO_FACTOR], max_age=300),
}


def create_app(issuer: str, resource: str, **middleware: Any) -> ASGIApp:
    """The MCP app at ``{resource}`` (path ``/mcp``), protected by tokens from ``issuer``.

    ``middleware`` goes to :class:`BearerAuthMiddleware` (e.g. ``verifier=``
    instead of ``issuer=``).
    """
    items: list[str] = ["apple"]
    server = MCPServer("items")

    @server.tool()
    def list_items() -> list[str]:
        """The items."""
        return list(items)

    @server.tool()
    def add_item(name: str, ctx: Context) -> str:
        """Add an item; answers who added it."""
        items.append(name)
        return f"{name} added by {claims_of(ctx).sub}"

    @server.tool()
    def remove_item(name: str, ctx: Context) -> str:
        """Remove an item (a two-factor sign-in of the last five minutes only)."""
        if name in items:
            items.remove(name)
        return f"{name} removed by {claims_of(ctx).sub}"

    metadata = ProtectedResource(resource, resource_name="okta_bearer example MCP server")
    if "verifier" not in middleware:
        middleware["issuer"] = issuer
    return BearerAuthMiddleware(
        ToolScopes(server.streamable_http_app(), TOOLS),
        resource=metadata,
        required_scopes=["items:read"],
        **middleware,
    )


def build(issuer_port: int = 9400, mcp_port: int = 9403) -> tuple[DevIssuer, ASGIApp]:
    """The dev issuer at ``:issuer_port`` and the MCP app (at ``:mcp_port/mcp``) trusting it."""
    issuer = f"http://127.0.0.1:{issuer_port}/oauth2/default"
    resource = f"http://127.0.0.1:{mcp_port}/mcp"
    # The MCP client registers itself (RFC 7591): allow it this server's scopes and URL.
    dev = DevIssuer(
        LocalIssuer(issuer),
        default_scopes=["items:read"],
        registration_scopes=["items:read", "items:write"],
        registration_audiences=[resource],
    )
    return dev, create_app(issuer, resource)


async def main(issuer_port: int = 9400, mcp_port: int = 9403) -> None:
    """Serve a dev issuer and the MCP server on loopback until Ctrl-C."""
    import uvicorn

    dev, app = build(issuer_port, mcp_port)
    servers = [
        uvicorn.Server(uvicorn.Config(dev, host="127.0.0.1", port=issuer_port)),
        uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=mcp_port)),
    ]
    resource = f"http://127.0.0.1:{mcp_port}/mcp"
    print(
        f"MCP server: {resource}  (issuer {dev.issuer}, alice@example.com / wonderland)", flush=True
    )
    await asyncio.gather(*(s.serve() for s in servers))


def cli(argv: list[str] | None = None) -> None:
    """``python examples/mcp_server.py [--issuer-port N] [--port N]``."""
    parser = argparse.ArgumentParser(description="An MCP server and its dev issuer, on loopback.")
    parser.add_argument("--issuer-port", type=int, default=9400, help="dev issuer (%(default)s)")
    parser.add_argument("--port", type=int, default=9403, help="MCP server (%(default)s)")
    args = parser.parse_args(argv)
    asyncio.run(main(args.issuer_port, args.port))


if __name__ == "__main__":
    cli()
