"""Two replicas sharing a real redis-server: a proof used on one is refused by the other."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from okta_bearer._dpop.guard import DPoPGuard
from okta_bearer._dpop.proof import InvalidDPoPProof, ReplayCacheUnavailable
from okta_bearer._dpop.settings import DPoPSettings
from okta_bearer._testing.dpop import DPoPKey
from okta_bearer.redis_store import RedisStore
from okta_bearer.testing import LocalIssuer

from ..store._server import RedisServer

pytestmark = pytest.mark.anyio

URL = "https://api.example.test/items"


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """redis-server on a free loopback port for this module."""
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def replicas(redis_server: RedisServer) -> AsyncIterator[list[DPoPGuard]]:
    """Two guards, each with its own RedisStore client, as two processes would have."""
    if redis_server.process is None:
        redis_server.start()
    stores = [RedisStore(redis_server.url, timeout=0.5) for _ in range(2)]
    try:
        yield [DPoPGuard(DPoPSettings(store=store)) for store in stores]
    finally:
        for store in stores:
            await store.aclose()


async def _check(guard: DPoPGuard, issuer: LocalIssuer, headers: dict[str, str]) -> Any:
    found = guard.credentials([headers["authorization"].encode()])
    assert found is not None
    async with issuer.verifier() as verifier:
        claims = await verifier.verify(found[1])
    scope = {
        "type": "http",
        "scheme": "https",
        "method": "GET",
        "path": "/items",
        "headers": [(b"host", b"api.example.test")]
        + [(k.encode(), v.encode()) for k, v in headers.items()],
    }
    return await guard.check(scope, found[0], found[1], claims)


async def test_proof_replayed_to_another_replica_refused(replicas: list[DPoPGuard]) -> None:
    """A proof accepted by replica A is refused by replica B (one shared jti record)."""
    issuer, key = LocalIssuer(), DPoPKey()
    token = issuer.mint(cnf={"jkt": key.jkt})
    headers = key.headers("GET", URL, token)
    first, second = replicas
    assert (await _check(first, issuer, headers)).jkt == key.jkt
    with pytest.raises(InvalidDPoPProof, match="replayed"):
        await _check(second, issuer, headers)


async def test_concurrent_replays_across_replicas_one_wins(replicas: list[DPoPGuard]) -> None:
    """The same proof sent 10 times to each replica at once is accepted exactly once."""
    issuer, key = LocalIssuer(), DPoPKey()
    headers = key.headers("GET", URL, issuer.mint(cnf={"jkt": key.jkt}))
    calls = [_check(guard, issuer, headers) for guard in replicas for _ in range(10)]
    results = await asyncio.gather(*calls, return_exceptions=True)
    assert sum(not isinstance(r, BaseException) for r in results) == 1
    assert all(isinstance(r, InvalidDPoPProof) for r in results if isinstance(r, BaseException))


async def test_redis_stopped_dpop_503_bearer_unaffected(
    replicas: list[DPoPGuard], redis_server: RedisServer
) -> None:
    """With Redis down a DPoP request is 503 (fail closed) and a bearer request still passes."""
    issuer, key = LocalIssuer(), DPoPKey()
    guard = replicas[0]
    redis_server.stop()
    try:
        with pytest.raises(ReplayCacheUnavailable) as caught:
            await asyncio.wait_for(
                _check(guard, issuer, key.headers("GET", URL, issuer.mint(cnf={"jkt": key.jkt}))),
                30,  # hang guard only: RedisStore gives up after its 0.5 s timeout
            )
        assert caught.value.status == 503
        assert await _check(guard, issuer, {"authorization": f"Bearer {issuer.mint()}"}) is None
    finally:
        redis_server.start()
