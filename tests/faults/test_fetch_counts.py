"""How many requests the key server sees: single-flight, warm cache, unknown-kid floods."""

from __future__ import annotations

import asyncio
import itertools
import secrets

import anyio
import pytest

from okta_bearer.testing import SigningKey

from ..helpers import settle
from ._keyserver import gated, world


@pytest.mark.anyio
async def test_cold_start_with_200_concurrent_requests_fetches_once() -> None:
    """200 requests arriving together on a cold cache cause 1 discovery and 1 JWKS fetch."""
    async with world() as w:
        gate = asyncio.Event()
        w.server.faults["discovery"] = gated(w.server, gate)
        tokens = [w.token() for _ in range(200)]
        w.entered.target = 200
        async with anyio.create_task_group() as tg:
            responses: list[int] = []

            async def call(token: str) -> None:
                responses.append((await w.get(token)).status_code)

            for token in tokens:
                tg.start_soon(call, token)
            # Hold discovery until all 200 requests are inside the middleware.
            with anyio.fail_after(30):
                await w.server.held.wait()
                await w.entered.reached.wait()
            await settle(200)
            gate.set()
        assert responses == [200] * 200
        assert w.server.count("discovery") == 1
        assert w.server.count("jwks") == 1
        assert w.verifier.keys.fetch_counts == {"discovery": 1, "jwks": 1}


@pytest.mark.anyio
async def test_warm_cache_causes_no_fetch() -> None:
    """Once keys are cached, 500 requests with distinct valid tokens cause zero fetches."""
    async with world() as w:
        assert (await w.get(w.token())).status_code == 200
        before = list(w.server.log)
        for _ in range(500):
            w.clock.advance(1)  # 500 s: well inside the JWKS max-age of 3600 s
            assert (await w.get(w.token())).status_code == 200
        assert w.server.log == before


@pytest.mark.anyio
async def test_random_kid_flood_refetches_at_most_once_per_cooldown() -> None:
    """1000 tokens with random kids over 300 s refetch at most once per 30 s window."""
    cooldown = 30.0
    async with world(unknown_kid_cooldown=cooldown) as w:
        assert (await w.get(w.token())).status_code == 200
        attacker = SigningKey.generate("RS256")
        statuses: set[int] = set()
        for i in range(1000):
            w.clock.advance(0.3)
            kid = secrets.token_urlsafe(8)
            forged = w.issuer.mint(key=attacker, header={"kid": kid})
            statuses.add((await w.get(forged)).status_code)
            if i % 100 == 0:  # known-kid traffic keeps working throughout
                assert (await w.get(w.token())).status_code == 200
        assert statuses == {401}
        fetches = w.server.times("jwks")
        gaps = [b - a for a, b in itertools.pairwise(fetches)]
        assert all(gap >= cooldown for gap in gaps), gaps
        # 1 cold fetch, then at most one per elapsed window of 300 s / 30 s.
        assert 2 <= len(fetches) <= 1 + 300 / cooldown
        assert w.server.count("discovery") == 1


@pytest.mark.anyio
async def test_unknown_kid_within_cooldown_is_401_without_fetch() -> None:
    """Right after a fetch, a token with an unknown kid is refused at once, with no request."""
    async with world() as w:
        assert (await w.get(w.token())).status_code == 200
        before = len(w.server.log)
        forged = w.issuer.mint(key=SigningKey.generate("RS256"))
        response = await w.get(forged)
        assert response.status_code == 401
        assert 'error="invalid_token"' in response.headers["www-authenticate"]
        assert len(w.server.log) == before
