"""One fleet, one introspection: uvicorn --workers 4 sharing answers through a real redis-server.

The dev issuer (served in this process on a loopback port) counts the
introspection calls it receives and answers them slowly, so that concurrent
requests really overlap; four uvicorn worker processes each run an
IntrospectionVerifier with a Redis store, listening on one loopback port.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import secrets
import time
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from okta_bearer.dev_issuer import DevClient, DevIssuer
from okta_bearer.testing import LocalIssuer

from ..servers import UvicornProcess, loopback_socket, origin_of, serve
from ..store._server import RedisServer
from .conftest import CountingSlowIntrospection

pytestmark = pytest.mark.anyio

START_TIMEOUT = 60.0
CACHE_TTL = 6.0
MAX_RATE = 20


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
            "FLEET_CACHE_TTL": str(CACHE_TTL),
            "FLEET_MAX_RATE": str(MAX_RATE),
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


async def _mint(dev: DevIssuer) -> str:
    async with httpx.AsyncClient(trust_env=False) as http:
        minted = await http.post(
            f"{dev.issuer}/dev/mint", json={"client_id": "0oaspa", "opaque": True}
        )
    token: str = minted.json()["access_token"]
    return token


@contextlib.asynccontextmanager
async def _started(fleet: str, *, keepalive: bool) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the fleet, once all four workers answer."""
    limits = httpx.Limits(max_connections=100, max_keepalive_connections=100 if keepalive else 0)
    async with httpx.AsyncClient(
        base_url=fleet, limits=limits, timeout=60, trust_env=False
    ) as client:
        assert len(await _pids_answering(client, 4)) == 4, "not every worker started"
        yield client


async def _send(
    client: httpx.AsyncClient, tokens: list[str], *, fresh: bool = False
) -> list[httpx.Response]:
    """One request per token, all at once; ``fresh``: each on a new connection (any worker)."""
    close = {"connection": "close"} if fresh else {}
    requests = (client.get("/", headers={"authorization": f"Bearer {t}", **close}) for t in tokens)
    return list(await asyncio.gather(*requests))


async def test_fifty_concurrent_cold_requests_across_workers_make_one_call(
    fleet: str, issuer: tuple[DevIssuer, CountingSlowIntrospection]
) -> None:
    """50 concurrent requests with one new opaque token over 4 workers: one introspection."""
    dev, counting = issuer
    async with _started(fleet, keepalive=False) as client:
        token = await _mint(dev)
        before = counting.calls
        responses = await _send(client, [token] * 50)
    assert [r.status_code for r in responses] == [200] * 50
    served_by = {r.json()["pid"] for r in responses}
    assert len(served_by) >= 2, "the requests did not spread over workers"
    assert counting.calls - before == 1


async def test_revocation_is_seen_within_cache_ttl_of_the_answer_by_every_worker(
    fleet: str, issuer: tuple[DevIssuer, CountingSlowIntrospection]
) -> None:
    """Workers that read a shared answer late still refuse a revoked token cache_ttl after it."""
    dev, counting = issuer
    async with _started(fleet, keepalive=False) as client:
        token = await _mint(dev)
        first = await client.get("/", headers={"authorization": f"Bearer {token}"})
        answered = time.monotonic()  # the issuer answered just before this
        assert first.status_code == 200
        calls = counting.calls
        await asyncio.sleep(CACHE_TTL / 2)
        # Half of cache_ttl later, until another worker has read the answer from Redis.
        late_readers: set[int] = set()
        while not late_readers - {first.json()["pid"]}:
            late = await _send(client, [token] * 8, fresh=True)
            assert [r.status_code for r in late] == [200] * 8
            late_readers |= {r.json()["pid"] for r in late}
            assert time.monotonic() < answered + CACHE_TTL - 1, "no other worker answered"
        assert counting.calls == calls  # they read it, nobody asked the issuer again
        dev.tokens.revoke(token)
        await asyncio.sleep(max(0.0, answered + CACHE_TTL + 0.5 - time.monotonic()))
        after = await _send(client, [token] * 24, fresh=True)
    assert [r.status_code for r in after] == [401] * 24


async def test_a_flood_of_random_tokens_over_the_fleet_stays_within_one_budget(
    fleet: str, issuer: tuple[DevIssuer, CountingSlowIntrospection]
) -> None:
    """400 random tokens over 4 workers reach the issuer at MAX_RATE a second, fleet-wide."""
    dev, counting = issuer
    # New connections only: a pooled connection that a starved worker closed as idle
    # would fail a request with a ReadError, which says nothing about the budget.
    async with _started(fleet, keepalive=False) as client:
        await asyncio.sleep(1.0)  # a budget window of our own
        before = counting.calls
        started = time.monotonic()
        flood = await _send(client, [secrets.token_urlsafe(32) for _ in range(400)])
        windows = math.ceil(time.monotonic() - started) + 1  # clock seconds the flood touched
        calls = counting.calls - before
        await asyncio.sleep(1.0)  # the next window: the flood is over
        valid = await client.get("/", headers={"authorization": f"Bearer {await _mint(dev)}"})
    statuses = [r.status_code for r in flood]
    assert set(statuses) <= {401, 503}
    assert calls <= MAX_RATE * windows
    assert statuses.count(503) >= 400 - MAX_RATE * windows
    assert valid.status_code == 200
