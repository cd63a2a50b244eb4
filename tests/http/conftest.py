"""A real uvicorn server on 127.0.0.1 for HTTP-level tests.

Each app under test is served by :func:`tests.servers.start_server`: uvicorn
in a background thread on a socket bound to port 0.  Keys come from a
:class:`~okta_bearer.testing.LocalIssuer` through an httpx mock transport: the
only network traffic is the test's own requests.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import httpx
import pytest
from starlette.types import ASGIApp

from okta_bearer import TokenVerifier
from okta_bearer.testing import LocalIssuer

from ..servers import Server, start_server


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
