"""Outages after the cache is warm, recovery, key rotation and key removal."""

from __future__ import annotations

import asyncio
import gc
import logging

import anyio
import httpx
import pytest

from ..helpers import settle
from ._keyserver import gated, json_doc, never_answers, policy, raises, status, world

KEYS_MAX_AGE = 3600  # LocalIssuer's Cache-Control: max-age on the JWKS
MAX_STALE = 600.0
BACKOFF = 5.0  # KeyPolicy.retry_backoff: no new fetch this soon after a failure


@pytest.mark.anyio
@pytest.mark.parametrize(
    "fault",
    [status(500), status(404), raises(httpx.ConnectError), raises(httpx.ReadTimeout), None],
    ids=["500", "404", "connect-error", "read-timeout", "never-answers"],
)
async def test_known_keys_serve_through_an_outage_until_max_stale(fault: object) -> None:
    """During an outage cached keys keep serving past their TTL; past keys_max_stale it is 503."""
    async with world(keys=policy(max_stale=MAX_STALE)) as w:
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
    """A refresh that returns garbage never wipes the keys that work."""
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
@pytest.mark.parametrize("after", [1.0, KEYS_MAX_AGE - 20], ids=["start-up", "scheduled-refresh"])
async def test_a_rotated_key_is_accepted_on_its_first_request(after: float) -> None:
    """A token signed by a key published a second after any fetch passes on its first request."""
    async with world() as w:
        assert (await w.get(w.token())).status_code == 200
        if after > 1:
            w.clock.advance(after)  # inside refresh-ahead: a scheduled refresh runs now
            assert (await w.get(w.token())).status_code == 200
            await settle()
            assert w.server.count("jwks") == 2
            w.clock.advance(1)
        else:
            w.clock.advance(after)
        fetched = w.server.count("jwks")
        w.issuer.rotate()
        assert (await w.get(w.token())).status_code == 200
        assert w.server.count("jwks") == fetched + 1
        # The old key is still published (keep_old): its tokens pass with no fetch.
        old = w.issuer.mint(key=w.issuer.keys[0])
        assert (await w.get(old)).status_code == 200
        assert w.server.count("jwks") == fetched + 1


@pytest.mark.anyio
async def test_a_withdrawn_key_is_refused_from_the_refresh_that_drops_it() -> None:
    """Once a refresh no longer lists a key, its tokens are 401, cached ones included."""
    async with world() as w:
        old_key = w.issuer.signing_key
        cached = w.token()
        assert (await w.get(cached)).status_code == 200
        assert (await w.get(cached)).status_code == 200  # now a verified-token cache hit
        w.issuer.rotate(keep_old=False)

        # The first new-key token triggers the refetch that drops the old key.
        w.clock.advance(1)
        assert (await w.get(w.token())).status_code == 200
        assert w.server.count("jwks") == 2

        assert (await w.get(w.issuer.mint(key=old_key))).status_code == 401
        response = await w.get(cached)
        assert response.status_code == 401
        assert 'error="invalid_token"' in response.headers["www-authenticate"]


@pytest.mark.anyio
async def test_a_scheduled_refresh_also_withdraws_cached_tokens() -> None:
    """A key dropped at a scheduled refresh takes its cached tokens with it."""
    async with world() as w:
        cached = w.token()
        assert (await w.get(cached)).status_code == 200
        w.issuer.rotate(keep_old=False)
        w.clock.advance(KEYS_MAX_AGE - 20)  # refresh-ahead starts in the background
        await w.get(w.token())
        await settle()
        assert w.server.count("jwks") >= 2
        assert (await w.get(cached)).status_code == 401


@pytest.mark.anyio
async def test_no_request_waits_past_the_timeout_for_a_hung_server() -> None:
    """50 concurrent requests during a never-answering cold fetch all get 503, promptly."""
    async with world() as w:
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
async def test_an_unknown_kid_during_an_outage_is_503_on_every_try() -> None:
    """While keys cannot be fetched, an unknown kid is 503 + Retry-After on every try, never 401."""
    async with world() as w:
        assert (await w.get(w.token())).status_code == 200
        w.issuer.rotate()
        w.server.faults["jwks"] = status(500)
        new_token = w.token()  # signed by the new key, which cannot be fetched
        for _ in range(30):
            w.clock.advance(0.5)
            response = await w.get(new_token)
            assert response.status_code == 503
            assert int(response.headers["retry-after"]) >= 1
            old = w.issuer.mint(key=w.issuer.keys[0])
            assert (await w.get(old)).status_code == 200  # known kids keep passing
        # Bounded: one refetch per backoff (5 s) over 15 s, not one per request.
        assert w.server.count("jwks") <= 1 + 4
        del w.server.faults["jwks"]
        w.clock.advance(5)
        assert (await w.get(new_token)).status_code == 200


@pytest.mark.anyio
async def test_a_refresh_cancelled_at_shutdown_is_not_an_unretrieved_task_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Closing the verifier during a hung refresh cancels it quietly: no 'never retrieved' error."""
    caplog.set_level(logging.DEBUG)
    async with world() as w:
        w.server.faults["discovery"] = never_answers(w.server)
        w.verifier._keys._start()
        with anyio.fail_after(10):
            await w.server.held.wait()
        await w.verifier.aclose()
        await settle()
    gc.collect()
    await settle()
    assert not [r for r in caplog.records if "never retrieved" in r.getMessage()]
    assert any("cancelled" in r.getMessage() for r in caplog.records)


@pytest.mark.anyio
async def test_a_failing_refresh_is_logged_and_keeps_the_good_keys(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A refresh answering keys of the wrong JSON types logs a warning and keeps the last keys."""
    caplog.set_level(logging.WARNING, logger="okta_bearer")
    async with world() as w:
        assert (await w.get(w.token())).status_code == 200
        bad = {"keys": [{**k, "crv": [], "kty": "EC"} for k in w.issuer.jwks()["keys"]]}
        w.server.faults["jwks"] = json_doc(bad)
        w.clock.advance(KEYS_MAX_AGE - 20)
        assert (await w.get(w.token())).status_code == 200
        await settle()
        assert w.server.count("jwks") == 2
        assert (await w.get(w.token())).status_code == 200
    assert any("key refresh" in r.getMessage() for r in caplog.records)
