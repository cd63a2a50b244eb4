"""Outages after the cache is warm, recovery, key rotation and key removal."""

from __future__ import annotations

import asyncio

import anyio
import httpx
import pytest

from ..helpers import settle
from ._keyserver import gated, never_answers, raises, status, world

KEYS_MAX_AGE = 3600  # LocalIssuer's Cache-Control: max-age on the JWKS
MAX_STALE = 600.0
BACKOFF = 5.0  # min(unknown_kid_cooldown, 5): no new fetch this soon after a failure


@pytest.mark.anyio
@pytest.mark.parametrize(
    "fault",
    [status(500), status(404), raises(httpx.ConnectError), raises(httpx.ReadTimeout), None],
    ids=["500", "404", "connect-error", "read-timeout", "never-answers"],
)
async def test_known_keys_serve_through_an_outage_until_max_stale(fault: object) -> None:
    """During an outage cached keys keep serving past their TTL; past keys_max_stale it is 503."""
    async with world(keys_max_stale=MAX_STALE) as w:
        assert (await w.get(w.token())).status_code == 200
        for kind in ("discovery", "jwks"):
            w.server.faults[kind] = fault or never_answers(w.server)  # type: ignore[assignment]

        # Inside the TTL: no fetch at all.
        w.clock.advance(KEYS_MAX_AGE / 2)
        assert (await w.get(w.token())).status_code == 200
        assert w.server.count("jwks") == 1

        # Past the TTL, inside max_stale: refreshes fail in the background, tokens still pass.
        w.clock.advance(KEYS_MAX_AGE / 2 + 1)
        with anyio.fail_after(20):
            for _ in range(5):
                assert (await w.get(w.token())).status_code == 200
                await anyio.sleep(0.25)  # let the failing background refresh finish
                w.clock.advance(BACKOFF)
        assert w.server.count("jwks") >= 2

        # Past expiry + max_stale: the keys are too old to trust.
        w.clock.advance(MAX_STALE)
        with anyio.fail_after(20):
            response = await w.get(w.token())
        assert response.status_code == 503
        assert int(response.headers["retry-after"]) >= 1


@pytest.mark.anyio
async def test_recovery_after_an_outage() -> None:
    """A failure is not cached forever: once the server is back, the next eligible request wins."""
    async with world() as w:
        w.server.faults["jwks"] = status(500)
        assert (await w.get(w.token())).status_code == 503
        fetched = w.server.count("jwks")

        # Within the back-off no new fetch is attempted: still 503, nothing sent.
        w.server.faults.clear()
        assert (await w.get(w.token())).status_code == 503
        assert w.server.count("jwks") == fetched

        w.clock.advance(BACKOFF)
        assert (await w.get(w.token())).status_code == 200
        assert w.server.count("jwks") == fetched + 1


@pytest.mark.anyio
async def test_503_retry_after_points_past_the_backoff() -> None:
    """Retry-After at cold start tells the client when the next fetch may be attempted."""
    async with world() as w:
        w.server.faults["jwks"] = status(500)
        response = await w.get(w.token())
        assert response.status_code == 503
        assert 1 <= int(response.headers["retry-after"]) <= BACKOFF


@pytest.mark.anyio
async def test_garbage_refresh_keeps_the_last_good_keys() -> None:
    """A refresh that returns garbage never wipes the keys that work (catalog G.110)."""
    async with world() as w:
        assert (await w.get(w.token())).status_code == 200
        w.server.faults["jwks"] = status(200)  # 200 with a body that is not a JWKS
        w.clock.advance(KEYS_MAX_AGE + 1)
        assert (await w.get(w.token())).status_code == 200
        await settle()
        w.clock.advance(BACKOFF)
        assert (await w.get(w.token())).status_code == 200
        assert w.server.count("jwks") >= 2


@pytest.mark.anyio
async def test_rotation_new_kid_is_fetched_after_the_cooldown() -> None:
    """A token signed by a newly rotated key passes after one refetch (once off cooldown)."""
    async with world(unknown_kid_cooldown=30) as w:
        assert (await w.get(w.token())).status_code == 200
        w.issuer.rotate()

        # Within the cool-down of the last fetch: refused, nothing fetched.
        new_token = w.token()
        assert (await w.get(new_token)).status_code == 401
        assert w.server.count("jwks") == 1

        w.clock.advance(30)
        assert (await w.get(w.token())).status_code == 200
        assert w.server.count("jwks") == 2
        # The old key is still published (keep_old): its tokens pass with no fetch.
        old = w.issuer.mint(key=w.issuer.keys[0])
        assert (await w.get(old)).status_code == 200
        assert w.server.count("jwks") == 2


@pytest.mark.anyio
async def test_removed_kid_is_refused_after_the_next_refresh() -> None:
    """Once a refresh shows a key is gone, new tokens signed by it are 401 (catalog G.113)."""
    async with world() as w:
        old_key = w.issuer.signing_key
        cached = w.token()
        assert (await w.get(cached)).status_code == 200
        w.issuer.rotate(keep_old=False)

        # An unknown kid (the new key) off cool-down triggers the refetch that drops the old key.
        w.clock.advance(30)
        assert (await w.get(w.token())).status_code == 200
        assert w.server.count("jwks") == 2

        assert (await w.get(w.issuer.mint(key=old_key))).status_code == 401
        # Documented trade-off: a token verified before the removal stays in the
        # verified-token cache until token_cache_ttl (300 s) elapses.
        assert (await w.get(cached)).status_code == 200
        w.clock.advance(300)
        assert (await w.get(cached)).status_code == 401


@pytest.mark.anyio
async def test_no_request_waits_past_the_timeout_for_a_hung_server() -> None:
    """50 concurrent requests during a never-answering cold fetch all get 503, promptly."""
    async with world(timeout=0.2) as w:
        w.server.faults["discovery"] = never_answers(w.server)
        statuses: list[int] = []

        async def call() -> None:
            statuses.append((await w.get(w.token())).status_code)

        with anyio.fail_after(20):
            async with anyio.create_task_group() as tg:
                for _ in range(50):
                    tg.start_soon(call)
        assert statuses == [503] * 50
        assert w.server.count("discovery") == 1


@pytest.mark.anyio
async def test_a_new_kid_waits_for_the_refresh_already_in_flight() -> None:
    """A token signed by a just-published key, arriving mid-refresh, waits for it: 200, 1 fetch."""
    async with world() as w:
        assert (await w.get(w.token())).status_code == 200
        old_key = w.issuer.signing_key
        w.issuer.rotate()
        gate = asyncio.Event()
        w.server.faults["jwks"] = gated(w.server, gate)

        # In the refresh-ahead window a request starts a background refresh, held at the server.
        w.clock.advance(KEYS_MAX_AGE - 20)
        assert (await w.get(w.issuer.mint(key=old_key))).status_code == 200
        with anyio.fail_after(20):
            await w.server.held.wait()

        statuses: list[int] = []

        async def call() -> None:
            statuses.append((await w.get(w.token())).status_code)

        async with anyio.create_task_group() as tg:
            tg.start_soon(call)
            await settle()
            assert statuses == []  # waiting on the refresh, not refused
            gate.set()
        assert statuses == [200]
        assert w.server.count("jwks") == 2


@pytest.mark.anyio
async def test_unknown_kid_whose_refetch_fails_is_503_while_known_keys_serve() -> None:
    """In an outage an unknown kid's failed refetch is 503 + Retry-After; known kids pass."""
    async with world() as w:
        assert (await w.get(w.token())).status_code == 200
        w.issuer.rotate()
        w.server.faults["jwks"] = status(500)
        w.clock.advance(30)  # off the unknown-kid cool-down
        response = await w.get(w.token())  # signed by the new key, which cannot be fetched
        assert response.status_code == 503
        assert int(response.headers["retry-after"]) >= 1
        assert w.server.count("jwks") == 2
        old = w.issuer.mint(key=w.issuer.keys[0])
        assert (await w.get(old)).status_code == 200
