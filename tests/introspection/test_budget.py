"""A budget of introspection calls (concurrency and rate, per process and fleet) and of waiting.

Each test runs through both sides (the ``driver`` fixture): ``verify`` in the
event loop and ``verify_sync`` in threads.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import secrets
import time

import pytest

from okta_bearer import IntrospectionUnavailable, InvalidToken
from okta_bearer._store.memory import MemoryStore
from okta_bearer._testing.opaque import IntrospectionServer

from ..helpers import Clock
from .conftest import Delayed, Driver, introspections_take

pytestmark = pytest.mark.anyio


async def _outcomes(driver: Driver, verifier: object, tokens: list[str]) -> list[str]:
    async def one(token: str) -> str:
        try:
            await driver.verify(verifier, token)
        except InvalidToken:
            return "401"
        except IntrospectionUnavailable:
            return "503"
        return "200"

    return list(await asyncio.gather(*(one(t) for t in tokens)))


async def test_a_flood_of_random_tokens_reaches_the_issuer_at_the_budgeted_rate(
    server: IntrospectionServer, clock: Clock, driver: Driver
) -> None:
    """200 random tokens in one second cost max_rate calls; a valid token afterwards is accepted."""
    async with server.verifier(max_rate=10) as verifier:
        await driver.verify(verifier, server.mint_opaque())  # discovery, one call of the budget
        flood = [secrets.token_urlsafe(32) for _ in range(200)]
        outcomes = await _outcomes(driver, verifier, flood)
        assert server.count("/v1/introspect") == 10
        assert outcomes.count("401") == 9
        assert outcomes.count("503") == 191
        clock.advance(1)
        claims = await driver.verify(verifier, server.mint_opaque())
    assert claims.client_id == server.local.client_id


async def test_a_flood_over_four_workers_sharing_a_store_is_one_budget(
    server: IntrospectionServer, clock: Clock, driver: Driver
) -> None:
    """Four workers sharing a store spend one max_rate budget a second between them."""
    store = MemoryStore(clock=clock)
    workers = [server.verifier(store=store, max_rate=10) for _ in range(4)]
    try:
        flood = [secrets.token_urlsafe(32) for _ in range(200)]
        results = await asyncio.gather(
            *(_outcomes(driver, w, flood[i::4]) for i, w in enumerate(workers))
        )
        assert server.count("/v1/introspect") == 10
        assert sum(r.count("503") for r in results) == 190
        clock.advance(1)
        await driver.verify(workers[3], server.mint_opaque())
    finally:
        for worker in workers:
            await worker.aclose()


async def test_no_more_than_max_concurrent_calls_are_in_flight(
    server: IntrospectionServer, driver: Driver
) -> None:
    """With max_concurrent=2, 12 new tokens at once never have more than 2 calls in flight."""
    transport = Delayed(server.handler, introspections_take(0.02))
    async with server.verifier(transport=transport, max_concurrent=2) as verifier:
        tokens = [server.mint_opaque() for _ in range(12)]
        outcomes = await _outcomes(driver, verifier, tokens)
    assert outcomes == ["200"] * 12
    assert transport.peak == 2


async def test_a_waiter_never_waits_past_the_timeout_budget(
    server: IntrospectionServer, driver: Driver
) -> None:
    """A lease held elsewhere and never answered: 503 within the timeout, not a second fetch."""
    store = MemoryStore()
    token = server.mint_opaque()
    async with server.verifier(store=store, timeout=0.3) as verifier:
        key = f"{verifier._namespace}:{hashlib.sha256(token.encode()).hexdigest()}"
        await store.set_if_absent(f"{key}:lease", b"a stuck worker", 60)
        started = time.monotonic()
        with pytest.raises(IntrospectionUnavailable):
            await driver.verify(verifier, token)
        elapsed = time.monotonic() - started
    assert elapsed < 0.6
    assert server.count("/v1/introspect") == 0


async def test_waiting_for_a_free_slot_is_within_the_same_budget(
    server: IntrospectionServer, driver: Driver
) -> None:
    """With every slot taken by a slow call, a new token is 503 at the timeout, not later."""
    transport = Delayed(server.handler, introspections_take(0.25))
    async with server.verifier(transport=transport, max_concurrent=1, timeout=0.3) as verifier:
        await driver.verify(verifier, server.mint_opaque())  # discovery done
        started = time.monotonic()
        outcomes = await _outcomes(driver, verifier, [server.mint_opaque() for _ in range(3)])
        elapsed = time.monotonic() - started
    assert outcomes.count("200") == 1
    assert outcomes.count("503") == 2
    assert elapsed < 0.5


async def test_budget_refusals_are_logged_at_most_every_ten_seconds(
    server: IntrospectionServer, clock: Clock, caplog: pytest.LogCaptureFixture, driver: Driver
) -> None:
    """A flood over the budget is one warning per 10 s, counting the refusals, not one per token."""
    caplog.set_level(logging.WARNING, logger="okta_bearer")
    async with server.verifier(max_rate=5) as verifier:
        await _outcomes(driver, verifier, [secrets.token_urlsafe(32) for _ in range(100)])
        clock.advance(5)
        await _outcomes(driver, verifier, [secrets.token_urlsafe(32) for _ in range(100)])
        clock.advance(6)
        await _outcomes(driver, verifier, [secrets.token_urlsafe(32) for _ in range(100)])
    budget = [r for r in caplog.records if getattr(r, "reason", None) == "introspection_budget"]
    assert len(budget) == 2
    assert "190 new tokens" in budget[1].getMessage()  # 95 + 95 since the first report
