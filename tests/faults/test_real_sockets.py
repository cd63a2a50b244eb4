"""Key-server faults over real loopback sockets, with the verifier's own httpx client.

These complement the in-memory transport: a TCP server that accepts and never
answers, one that hangs up mid-request, and one that redirects to another
server, which must never be contacted.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import anyio
import pytest

from okta_bearer import KeyPolicy, KeysUnavailable, TokenVerifier
from okta_bearer.testing import LocalIssuer

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@asynccontextmanager
async def tcp_server(handler: Handler) -> AsyncIterator[tuple[int, list[int]]]:
    """Serve ``handler`` on 127.0.0.1 at a free port; yields (port, connection log)."""
    connections: list[int] = []
    writers: list[asyncio.StreamWriter] = []

    async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(1)
        writers.append(writer)
        try:
            await handler(reader, writer)
        finally:
            writer.close()

    server = await asyncio.start_server(on_connect, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield port, connections
    finally:
        for writer in writers:
            writer.close()
        server.close()
        await server.wait_closed()


async def black_hole(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Read the request and never answer (until the peer or the server closes)."""
    while await reader.read(65536):
        pass


async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Read the request and close the connection without a response."""
    await reader.read(65536)


def redirector(location: str) -> Handler:
    """Answer every request with a 302 to ``location``."""

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(65536)
        writer.write(
            b"HTTP/1.1 302 Found\r\nLocation: " + location.encode() + b"\r\n"
            b"Content-Length: 0\r\nConnection: close\r\n\r\n"
        )
        await writer.drain()

    return handler


async def verify_against(port: int) -> None:
    """Verify a well-formed token against an issuer served on ``port``."""
    issuer_url = f"http://127.0.0.1:{port}/oauth2/default"
    issuer = LocalIssuer(issuer_url)
    async with TokenVerifier(issuer_url, issuer.audience, keys=KeyPolicy(timeout=0.3)) as verifier:
        with anyio.fail_after(20):  # generous; the configured timeout is 0.3 s
            await verifier.verify(issuer.mint())


@pytest.mark.anyio
async def test_a_server_that_accepts_and_never_answers_gives_keys_unavailable() -> None:
    """A silent TCP peer costs one timeout, then KeysUnavailable (503), not a hang."""
    async with tcp_server(black_hole) as (port, connections):
        with pytest.raises(KeysUnavailable):
            await verify_against(port)
        assert connections


@pytest.mark.anyio
async def test_a_server_that_hangs_up_gives_keys_unavailable() -> None:
    """A connection closed without a response is a failed fetch (503), not a crash."""
    async with tcp_server(hang_up) as (port, connections):
        with pytest.raises(KeysUnavailable):
            await verify_against(port)
        assert connections


@pytest.mark.anyio
async def test_a_redirect_to_another_server_is_never_followed() -> None:
    """A 302 from the metadata URL is a failure; the redirect target sees no connection."""
    async with tcp_server(black_hole) as (target_port, target_connections):
        location = f"http://127.0.0.1:{target_port}/.well-known/openid-configuration"
        async with tcp_server(redirector(location)) as (port, connections):
            with pytest.raises(KeysUnavailable):
                await verify_against(port)
            assert connections
        assert target_connections == []
