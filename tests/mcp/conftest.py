"""A dev issuer and the example MCP server, each on a real uvicorn on 127.0.0.1.

Both need their own URL before they are built (the issuer signs ``iss``, the
MCP server's resource identifier is its URL), so the socket is bound first
and the app is built from the port the OS picked.  The MCP app runs its
lifespan (the SDK's session manager lives there).
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
import uvicorn
from starlette.types import ASGIApp

from okta_bearer._cli import load_example
from okta_bearer.dev_issuer import DevIssuer
from okta_bearer.testing import LocalIssuer

START_TIMEOUT = 60.0


@dataclass
class Running:
    """A uvicorn server in a background thread."""

    url: str
    server: uvicorn.Server
    thread: threading.Thread
    sock: socket.socket

    def stop(self) -> None:
        """Ask uvicorn to exit and wait for its thread."""
        self.server.should_exit = True
        self.thread.join(timeout=START_TIMEOUT)
        self.sock.close()


def serve(build: Callable[[str], ASGIApp]) -> Running:
    """Bind 127.0.0.1:0, build the app for ``http://127.0.0.1:<port>``, and serve it."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    origin = f"http://127.0.0.1:{sock.getsockname()[1]}"
    config = uvicorn.Config(build(origin), log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + START_TIMEOUT
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            sock.close()
            pytest.fail("uvicorn did not start")
        time.sleep(0.01)
    return Running(origin, server, thread, sock)


@dataclass
class World:
    """The dev issuer and the MCP server it protects."""

    issuer: str
    dev: DevIssuer
    mcp_url: str


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    """A dev issuer (default scope items:read) and examples/mcp_server.py trusting it."""
    holder: dict[str, DevIssuer] = {}

    def build_issuer(origin: str) -> ASGIApp:
        dev = DevIssuer(LocalIssuer(f"{origin}/oauth2/default"), default_scopes=["items:read"])
        holder["dev"] = dev
        return dev

    issuer_server = serve(build_issuer)
    issuer = f"{issuer_server.url}/oauth2/default"
    example = load_example("mcp_server")
    mcp_server = serve(lambda origin: example.create_app(issuer, f"{origin}/mcp"))
    try:
        yield World(issuer, holder["dev"], f"{mcp_server.url}/mcp")
    finally:
        mcp_server.stop()
        issuer_server.stop()
