"""A dev issuer and the example MCP server, each on a real uvicorn on 127.0.0.1.

Both need their own URL before they are built (the issuer signs ``iss``, the
MCP server's resource identifier is its URL), so the socket is bound first
and the app is built from the port the OS picked.  The MCP app runs its
lifespan (the SDK's session manager lives there).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from okta_bearer._cli import load_example
from okta_bearer.dev_issuer import DEFAULT_CLIENT_ID, DEFAULT_SCOPES, DevClient, DevIssuer
from okta_bearer.testing import LocalIssuer

from ..servers import loopback_socket, origin_of, serve
from .echo import Echo

#: A confidential client the operator configured: trusted with any audience.
MACHINE_ID, MACHINE_SECRET = "0oamachine", "machine-secret-for-tests"


@dataclass
class World:
    """The dev issuer and the MCP server it protects."""

    issuer: str
    dev: DevIssuer
    mcp_url: str


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    """A dev issuer (default scope items:read) and examples/mcp_server.py trusting it.

    Self-registered clients (the MCP client) may have the items scopes for the
    MCP server's URL; MACHINE_ID is configured, so trusted with any audience.
    """
    issuer_sock = loopback_socket()
    issuer = f"{origin_of(issuer_sock)}/oauth2/default"
    mcp_sock = loopback_socket()
    mcp_url = f"{origin_of(mcp_sock)}/mcp"
    dev = DevIssuer(
        LocalIssuer(issuer),
        clients=[DevClient(DEFAULT_CLIENT_ID, ()), DevClient(MACHINE_ID, (), MACHINE_SECRET)],
        default_scopes=["items:read"],
        registration_scopes=DEFAULT_SCOPES,
        registration_audiences=[mcp_url],
    )
    example = load_example("mcp_server")
    with (
        serve(dev, sock=issuer_sock, lifespan="on"),
        serve(example.create_app(issuer, mcp_url), sock=mcp_sock, lifespan="on"),
    ):
        yield World(issuer, dev, mcp_url)


@pytest.fixture
def echo() -> Echo:
    """A stand-in MCP app recording the bodies it receives."""
    return Echo()
