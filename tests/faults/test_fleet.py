"""Several processes sharing keys through one store fetch like one process.

Each "worker" is a TokenVerifier of its own (its own caches and key store, as
in a separate process) sharing one Store and one key server; the multi-process
version with uvicorn workers and a real Redis lives in tests/fleet.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import pytest

from okta_bearer import BearerError, TokenVerifier
from okta_bearer._keys.fleet import SharedKeys
from okta_bearer._store.memory import MemoryStore, StoreUnavailable
from okta_bearer.testing import LocalIssuer, SigningKey

from ..helpers import Clock, settle
from ._keyserver import AUDIENCE, ISSUER, FaultyKeyServer, policy

pytestmark = pytest.mark.anyio


class BrokenStore(MemoryStore):
    """A store whose every operation fails, as a Redis that went away."""

    async def get(self, key: str) -> bytes | None:
        raise StoreUnavailable("down")

    async def set_if_absent(self, key: str, value: bytes, ttl: float) -> bool:
        raise StoreUnavailable("down")


@asynccontextmanager
async def fleet(
    workers: int = 4, store: Any = None, **options: Any
) -> AsyncIterator[tuple[Clock, LocalIssuer, FaultyKeyServer, list[TokenVerifier]]]:
    """``workers`` verifiers sharing ``store`` (a MemoryStore by default) and one key server."""
    clock = Clock()
    issuer = LocalIssuer(ISSUER, AUDIENCE, clock=clock)
    server = FaultyKeyServer(issuer, clock)
    shared = MemoryStore() if store is None else store
    options.setdefault("keys", policy(timeout=2.0))
    verifiers = [
        TokenVerifier(ISSUER, AUDIENCE, transport=server, clock=clock, store=shared, **options)
        for _ in range(workers)
    ]
    try:
        yield clock, issuer, server, verifiers
    finally:
        for verifier in verifiers:
            await verifier.aclose()


async def verify_all(verifiers: list[TokenVerifier], tokens: list[str]) -> list[str]:
    """Verify ``tokens`` concurrently, spread over the workers; the outcome of each."""
    outcomes: list[str] = []

    async def one(verifier: TokenVerifier, token: str) -> None:
        try:
            await verifier.verify(token)
            outcomes.append("ok")
        except BearerError as error:
            outcomes.append(error.reason)

    async with anyio.create_task_group() as tg:
        for i, token in enumerate(tokens):
            tg.start_soon(one, verifiers[i % len(verifiers)], token)
    return outcomes


async def test_50_cold_requests_over_4_workers_fetch_keys_once() -> None:
    """A cold fleet of 4 workers answering 50 requests makes 1 discovery and 1 JWKS fetch."""
    async with fleet() as (_, issuer, server, verifiers):
        outcomes = await verify_all(verifiers, [issuer.mint() for _ in range(50)])
        assert outcomes == ["ok"] * 50
        assert server.count("jwks") == 1
        assert server.count("discovery") == 1


async def test_a_rotation_costs_the_fleet_one_fetch() -> None:
    """After a rotation, new-kid tokens arriving at every worker cause one fetch in all."""
    async with fleet() as (clock, issuer, server, verifiers):
        await verify_all(verifiers, [issuer.mint() for _ in range(8)])
        assert server.count("jwks") == 1
        clock.advance(60)
        issuer.rotate()
        outcomes = await verify_all(verifiers, [issuer.mint() for _ in range(40)])
        assert outcomes == ["ok"] * 40
        assert server.count("jwks") == 2


async def test_a_random_kid_flood_over_the_fleet_stays_within_12_fetches_a_minute() -> None:
    """Random kids at every worker for a minute cost at most one fetch per interval in all."""
    async with fleet() as (clock, issuer, server, verifiers):
        await verify_all(verifiers, [issuer.mint() for _ in range(4)])
        attacker = SigningKey.generate("RS256")
        start = clock()
        for _ in range(60):
            forged = [
                issuer.mint(key=attacker, header={"kid": secrets.token_urlsafe(8)})
                for _ in range(8)
            ]
            assert set(await verify_all(verifiers, forged)) == {"unknown_kid"}
            clock.advance(1)
        fetches = [t for t in server.times("jwks") if t >= start]
        assert 1 <= len(fetches) - 1 <= 12


async def test_a_scheduled_refresh_is_fetched_once_for_the_fleet() -> None:
    """Workers entering the refresh-ahead window together make one fetch between them."""
    async with fleet() as (clock, issuer, server, verifiers):
        await verify_all(verifiers, [issuer.mint() for _ in range(4)])
        clock.advance(3600 - 20)
        await verify_all(verifiers, [issuer.mint() for _ in range(4)])
        for _ in range(100):
            await settle()
            if all(v.keys._task is None for v in verifiers):
                break
            await anyio.sleep(0.05)
        assert server.count("jwks") == 2


async def test_a_lease_holder_that_died_costs_at_most_one_fetch_per_worker() -> None:
    """A lease left by a dead process expires; then the workers fetch, at most once each."""
    store = MemoryStore()
    async with fleet(store=store, keys=policy(timeout=0.5)) as (clock, issuer, server, verifiers):
        fleet_of = verifiers[0].keys._fleet
        assert fleet_of is not None
        lease = fleet_of._lease_key
        await store.set_if_absent(lease, b"dead", 1.5)  # timeout + 1, as a holder would
        tokens = [issuer.mint() for _ in range(8)]
        first = await verify_all(verifiers, tokens)
        assert set(first) == {"keys_unavailable"}
        assert server.count("jwks") == 0  # everyone waited for the dead holder
        await anyio.sleep(1.6)  # the lease expires
        clock.advance(5)  # past the retry backoff
        outcomes = await verify_all(verifiers, [issuer.mint() for _ in range(8)])
        assert outcomes == ["ok"] * 8
        assert 1 <= server.count("jwks") <= len(verifiers)


async def test_a_broken_store_falls_back_to_fetching_alone() -> None:
    """If the shared store fails, each worker fetches its own keys and requests still pass."""
    async with fleet(store=BrokenStore()) as (_, issuer, server, verifiers):
        outcomes = await verify_all(verifiers, [issuer.mint() for _ in range(8)])
        assert outcomes == ["ok"] * 8
        assert server.count("jwks") == len(verifiers)


@pytest.mark.parametrize(
    "other",
    [
        pytest.param({"jwks_uri": f"{ISSUER}/v1/keys"}, id="jwks_uri"),
        pytest.param({"algorithms": ("RS256", "ES256")}, id="algorithms"),
    ],
)
async def test_a_key_set_is_shared_only_by_verifiers_of_the_same_shape(
    other: dict[str, Any],
) -> None:
    """Same issuer but another jwks_uri or algorithms: the second verifier fetches its own keys."""
    clock = Clock()
    issuer = LocalIssuer(ISSUER, AUDIENCE, clock=clock)
    server = FaultyKeyServer(issuer, clock)
    store = MemoryStore()
    options: dict[str, Any] = {"transport": server, "clock": clock, "store": store}
    async with (
        TokenVerifier(ISSUER, AUDIENCE, **options) as first,
        TokenVerifier(ISSUER, AUDIENCE, **options, **other) as second,
        TokenVerifier(ISSUER, AUDIENCE, **options, **other) as third,
    ):
        token = issuer.mint()
        await first.verify(token)
        await second.verify(token)
        assert server.count("jwks") == 2  # not adopted from the first's copy
        await third.verify(token)
        assert server.count("jwks") == 2  # the same shape shares


async def test_a_slow_lease_holder_does_not_release_the_next_holders_lease() -> None:
    """A holder whose lease expired mid-fetch leaves the lease another worker then took."""
    store = MemoryStore()
    async with fleet(workers=1, store=store, keys=policy(timeout=0.2)) as (
        _,
        issuer,
        server,
        verifiers,
    ):
        fleet_of = verifiers[0].keys._fleet
        assert fleet_of is not None
        lease = fleet_of._lease_key
        real = server.issuer.handler

        def slow_then_retaken(request: Any) -> Any:
            if server.kind(request) == "jwks":
                store._data.pop(lease, None)  # the lease expired during this fetch...
                store._data[lease] = (b"next-holder", float("inf"))  # ...and was retaken
            return real(request)

        server.issuer.handler = slow_then_retaken  # type: ignore[method-assign]
        await verifiers[0].verify(issuer.mint())
        assert await store.get(lease) == b"next-holder"


@pytest.mark.parametrize("when", ["1" + "0" * 400, "1e400", "NaN", '"soon"'])
def test_a_shared_copy_with_a_hostile_time_is_not_adopted(when: str) -> None:
    """A stored copy whose fetched_at is a 400-digit number, 1e400 or NaN is ignored, not a 500."""
    data = f'{{"jwks_uri": "https://x", "jwks": {{}}, "fetched_at": {when}, "ttl": 60}}'
    assert SharedKeys.decode(data.encode()) is None


class PoisonedStore(MemoryStore):
    """A store that rewrites one number of every published key set as it is written."""

    def __init__(self, member: str, token: str) -> None:
        super().__init__()
        self._pattern = re.compile(rf'"{member}": [^,}}]+'.encode())
        self._replacement = f'"{member}": {token}'.encode()

    async def set(self, key: str, value: bytes, ttl: float) -> None:
        await super().set(key, self._pattern.sub(self._replacement, value), ttl)


@pytest.mark.parametrize(
    ("member", "token"),
    [
        ("fetched_at", "NaN"),
        ("fetched_at", "1e300"),  # "fetched" far in the future: it would never expire
        ("fetched_at", "9" * 400),
        ("fetched_at", "1e400"),
        ("fetched_at", "true"),
        ("ttl", "NaN"),
        ("ttl", "1e400"),
        ("ttl", "-1"),
        ("ttl", "9" * 400),
    ],
)
async def test_a_shared_copy_with_a_hostile_number_is_not_adopted(member: str, token: str) -> None:
    """A published key set whose fetched_at or ttl is NaN, huge, future or negative is refetched."""
    async with fleet(workers=2, store=PoisonedStore(member, token)) as (
        _,
        issuer,
        server,
        verifiers,
    ):
        await verifiers[0].verify(issuer.mint())
        assert server.count("jwks") == 1
        await verifiers[1].verify(issuer.mint())  # reads the poisoned copy, fetches its own
        assert server.count("jwks") == 2
