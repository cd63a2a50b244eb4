"""How many requests the key server sees: single-flight, warm cache, unknown-kid floods."""

from __future__ import annotations

import asyncio
import itertools
import json
import secrets

import anyio
import pytest

from okta_bearer import KeyPolicy
from okta_bearer.testing import SigningKey

from ..helpers import settle
from ._keyserver import body, gated, world


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
async def test_1000_concurrent_random_kids_cause_one_refetch() -> None:
    """1000 concurrent tokens with random kids cause one refetch between them, all 401."""
    async with world() as w:
        assert (await w.get(w.token())).status_code == 200
        attacker = SigningKey.generate("RS256")
        forged = [
            w.issuer.mint(key=attacker, header={"kid": secrets.token_urlsafe(8)})
            for _ in range(1000)
        ]
        statuses: list[int] = []

        async def call(token: str) -> None:
            statuses.append((await w.get(token)).status_code)

        async with anyio.create_task_group() as tg:
            for token in forged:
                tg.start_soon(call, token)
        assert statuses == [401] * 1000
        assert w.server.count("jwks") == 2  # the cold fetch and one refetch
        assert (await w.get(w.token())).status_code == 200


@pytest.mark.anyio
async def test_a_minute_of_new_kids_costs_at_most_12_fetches_and_rotation_gets_through() -> None:
    """A new kid each second for a minute: <= 12 fetches; a rotation mid-flood passes in 5 s."""
    async with world() as w:
        assert (await w.get(w.token())).status_code == 200
        attacker = SigningKey.generate("RS256")
        start = w.clock()
        rotated_at: float | None = None
        accepted_at: float | None = None
        for second in range(60):
            forged = w.issuer.mint(key=attacker, header={"kid": secrets.token_urlsafe(8)})
            assert (await w.get(forged)).status_code == 401
            if second == 30:
                w.issuer.rotate()
                rotated_at = w.clock()
            # The genuine client retries its new-key token each second.
            genuine = rotated_at is not None and accepted_at is None
            if genuine and (await w.get(w.token())).status_code == 200:
                accepted_at = w.clock()
            w.clock.advance(1)
        fetches = [t for t in w.server.times("jwks") if t >= start]
        assert 1 <= len(fetches) - 1 <= 12  # the cold fetch came first, at `start`
        assert all(b - a >= 5 for a, b in itertools.pairwise(fetches[1:]))
        assert rotated_at is not None
        assert accepted_at is not None
        assert accepted_at - rotated_at <= 5
        assert w.server.count("discovery") == 1


@pytest.mark.anyio
async def test_second_unknown_kid_within_the_interval_is_401_without_fetch() -> None:
    """Right after an unknown-kid refetch, another unknown kid is refused at once, unfetched."""
    async with world() as w:
        assert (await w.get(w.token())).status_code == 200
        attacker = SigningKey.generate("RS256")
        assert (await w.get(w.issuer.mint(key=attacker))).status_code == 401
        before = len(w.server.log)
        w.clock.advance(4.9)
        response = await w.get(w.issuer.mint(key=SigningKey.generate("RS256")))
        assert response.status_code == 401
        assert 'error="invalid_token"' in response.headers["www-authenticate"]
        assert len(w.server.log) == before


@pytest.mark.anyio
@pytest.mark.parametrize(
    "cache_control",
    [
        "max-age=" + "9" * 400,
        'max-age="' + "9" * 400 + '"',
        "max-age=" + "9" * 5000,
        "max-age=1e400",
        "max-age=-1",
        "max-age=NaN",
        "max-age=true",
        "public, max-age=86401, max-age=0",
    ],
)
async def test_a_hostile_max_age_is_clamped_to_the_policy(cache_control: str) -> None:
    """Any max-age serves the keys, which are refreshed by KeyPolicy.max_ttl at the latest."""
    async with world() as w:
        jwks = json.dumps(w.issuer.jwks()).encode()
        w.server.faults["jwks"] = body(jwks, **{"cache-control": cache_control})
        assert (await w.get(w.token())).status_code == 200
        w.clock.advance(KeyPolicy().max_ttl + 1)
        assert (await w.get(w.token())).status_code == 200
        await settle()
        assert w.server.count("jwks") == 2
