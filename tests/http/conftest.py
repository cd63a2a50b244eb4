"""A real uvicorn server on 127.0.0.1 for HTTP-level tests.

Each app under test is served by ``uvicorn.Server`` in a background thread
(its own event loop, no signal handlers) on a socket bound to port 0, so the
OS picks a free port and there is no window for another process to take it.
Keys come from a :class:`~okta_bearer.testing.LocalIssuer` through an httpx
mock transport: the only network traffic is the test's own requests.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import httpx
import pytest
import uvicorn
from starlette.types import ASGIApp

from okta_bearer import TokenVerifier
from okta_bearer.testing import LocalIssuer

START_TIMEOUT = 60.0  # generous: the CI machine is shared


@dataclass
class Server:
    """A running uvicorn server: ``base_url`` is ``http://127.0.0.1:<port>``."""

    port: int
    server: uvicorn.Server
    thread: threading.Thread
    sock: socket.socket

    @property
    def base_url(self) -> str:
        """The HTTP origin of the server."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        """The WebSocket origin of the server."""
        return f"ws://127.0.0.1:{self.port}"

    def stop(self) -> None:
        """Ask uvicorn to exit and wait for its thread."""
        self.server.should_exit = True
        self.thread.join(timeout=START_TIMEOUT)
        self.sock.close()
        assert not self.thread.is_alive(), "uvicorn did not stop"


def start_server(app: ASGIApp, *, root_path: str = "") -> Server:
    """Serve ``app`` with uvicorn on 127.0.0.1 in a background thread; wait until it listens."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app,
        log_level="warning",
        lifespan="off",
        ws="websockets-sansio",
        timeout_graceful_shutdown=5,
        root_path=root_path,
    )
    server = uvicorn.Server(config)
    # uvicorn installs signal handlers only from the main thread, so none here.
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name=f"uvicorn-{port}", daemon=True
    )
    thread.start()
    deadline = time.monotonic() + START_TIMEOUT
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            sock.close()
            pytest.fail("uvicorn did not start")
        time.sleep(0.01)
    return Server(port, server, thread, sock)


@pytest.fixture(scope="module")
def issuer() -> LocalIssuer:
    """One in-memory issuer for a test module: it mints tokens and serves its keys."""
    return LocalIssuer()


@dataclass
class Verifiers:
    """Makes verifiers that fetch keys from ``issuer`` without a network; closes their clients."""

    issuer: LocalIssuer
    clients: list[httpx.AsyncClient]

    def __call__(self, **options: object) -> TokenVerifier:
        return self.issuer.verifier(**options)


@pytest.fixture(scope="module")
def make_verifier(issuer: LocalIssuer) -> Iterator[Callable[..., TokenVerifier]]:
    """A factory of verifiers for ``issuer`` whose mock-transport clients are closed at the end."""
    verifiers = Verifiers(issuer, [])
    yield verifiers

    async def close() -> None:
        for client in verifiers.clients:
            await client.aclose()

    asyncio.run(close())


@pytest.fixture(scope="module")
def serve() -> Iterator[Callable[[ASGIApp], Server]]:
    """``serve(app)`` starts uvicorn for ``app``; every server is stopped after the module."""
    servers: list[Server] = []

    def start(app: ASGIApp) -> Server:
        server = start_server(app)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()
