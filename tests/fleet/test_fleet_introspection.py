"""One fleet, one introspection: uvicorn --workers 4 sharing answers through a real redis-server.

The dev issuer (served in this process on a loopback port) counts the
introspection calls it receives and answers them slowly, so that concurrent
requests really overlap; four uvicorn worker processes each run an
IntrospectionVerifier with a Redis store, listening on one loopback port.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import httpx
import pytest
from starlette.types import ASGIApp, Receive, Scope, Send

from okta_bearer.dev_issuer import DevClient, DevIssuer
from okta_bearer.testing import LocalIssuer

from ..servers import UvicornProcess, loopback_socket, origin_of, serve
from ..store._server import RedisServer

pytestmark = pytest.mark.anyio

START_TIMEOUT = 60.0


class CountingSlowIntrospection:
    """Counts /v1/introspect calls and delays each, so concurrent requests overlap."""

    def __init__(self, app: ASGIApp, delay: float) -> None:
        self.app = app
        self.delay = delay
        self.calls = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].endswith("/v1/introspect"):
            self.calls += 1
            await asyncio.sleep(self.delay)
        await self.app(scope, receive, send)


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real redis-server on a free loopback port."""
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture(scope="module")
def issuer() -> Iterator[tuple[DevIssuer, CountingSlowIntrospection]]:
    """The dev issuer with a confidential resource-server client, counting introspections."""
    sock = loopback_socket()
    local = LocalIssuer(f"{origin_of(sock)}/oauth2/default")
    dev = DevIssuer(
        local,
        clients=[DevClient("0oaspa", ()), DevClient("0oaresourceserver", (), "fleet-secret")],
    )
    counting = CountingSlowIntrospection(dev, delay=0.5)
    with serve(counting, sock=sock):
        yield dev, counting


@pytest.fixture(scope="module")
def fleet(
    tmp_path_factory: pytest.TempPathFactory,
    redis_url: str,
    issuer: tuple[DevIssuer, CountingSlowIntrospection],
) -> Iterator[str]:
    """uvicorn --workers 4 on a free loopback port; yields its base URL."""
    workdir = tmp_path_factory.mktemp("fleet")
    api = UvicornProcess(
        "tests.fleet._fleet_app:create_app",
        factory=True,
        workers=4,
        env={
            "FLEET_ISSUER": issuer[0].issuer,
            "FLEET_AUDIENCE": issuer[0].local.audience,
            "FLEET_REDIS_URL": redis_url,
        },
        log=workdir / "api.log",
    )
    try:
        yield api.base_url
    finally:
        api.stop()


async def _pids_answering(client: httpx.AsyncClient, want: int) -> set[int]:
    """Probe on fresh connections until ``want`` workers have answered (or time runs out)."""
    seen: set[int] = set()
    deadline = time.monotonic() + START_TIMEOUT
    while len(seen) < want and time.monotonic() < deadline:
        try:
            response = await client.get("/", headers={"connection": "close"})
        except httpx.TransportError:
            await asyncio.sleep(0.1)
            continue
        seen.add(response.json()["pid"])
    return seen


async def test_fifty_concurrent_cold_requests_across_workers_make_one_call(
    fleet: str, issuer: tuple[DevIssuer, CountingSlowIntrospection]
) -> None:
    """50 concurrent requests with one new opaque token over 4 workers: one introspection."""
    dev, counting = issuer
    limits = httpx.Limits(max_connections=50, max_keepalive_connections=0)
    async with httpx.AsyncClient(
        base_url=fleet, limits=limits, timeout=60, trust_env=False
    ) as client:
        assert len(await _pids_answering(client, 4)) == 4, "not every worker started"
        async with httpx.AsyncClient(trust_env=False) as http:
            minted = await http.post(
                f"{dev.issuer}/dev/mint", json={"client_id": "0oaspa", "opaque": True}
            )
        token = minted.json()["access_token"]
        before = counting.calls
        responses = await asyncio.gather(
            *(client.get("/", headers={"authorization": f"Bearer {token}"}) for _ in range(50))
        )
    assert [r.status_code for r in responses] == [200] * 50
    served_by = {r.json()["pid"] for r in responses}
    assert len(served_by) >= 2, "the requests did not spread over workers"
    assert counting.calls - before == 1
