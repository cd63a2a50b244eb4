"""Introspection keeps its promises: exp, revocation in every worker, backoff for the endpoint."""

from __future__ import annotations

import logging

import httpx
import pytest

from okta_bearer import IntrospectionUnavailable, InvalidToken
from okta_bearer._opaque.cache_policy import CachePolicy, Entry
from okta_bearer._store.memory import MemoryStore
from okta_bearer._testing.opaque import IntrospectionServer

from ..helpers import Clock
from .conftest import Delayed, Driver

pytestmark = pytest.mark.anyio


def _refusing(
    server: IntrospectionServer, token: str, answer: httpx.Response
) -> httpx.MockTransport:
    """The server, except that ``token`` gets ``answer``."""

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/v1/introspect") and token.encode() in request.content:
            server.requests.append(request)
            return answer
        return server.handler(request)

    return httpx.MockTransport(handler)


async def test_a_cached_answer_never_outlives_exp_not_even_by_the_leeway(
    server: IntrospectionServer, clock: Clock, driver: Driver
) -> None:
    """With a 30 s leeway and a long cache_ttl, the issuer is asked again once exp has passed."""
    token = server.mint_opaque(exp=int(clock.now) + 10)
    async with server.verifier(cache_ttl=3600, leeway=30) as verifier:
        await driver.verify(verifier, token)
        clock.advance(11)
        with pytest.raises(InvalidToken) as caught:
            await driver.verify(verifier, token)
    assert caught.value.reason == "inactive"  # the issuer's word, not the cache's
    assert server.count("/v1/introspect") == 2


async def test_a_shared_answer_never_outlives_exp_in_a_reading_worker(
    server: IntrospectionServer, clock: Clock, driver: Driver
) -> None:
    """A worker reading a shared answer keeps it no later than the token's exp."""
    store = MemoryStore(clock=clock)
    token = server.mint_opaque(exp=int(clock.now) + 10)
    async with (
        server.verifier(store=store, cache_ttl=3600) as one,
        server.verifier(store=store, cache_ttl=3600) as two,
    ):
        await driver.verify(one, token)
        clock.advance(5)
        await driver.verify(two, token)
        clock.advance(6)
        with pytest.raises(InvalidToken):
            await driver.verify(two, token)
    assert server.count("/v1/introspect") == 2


async def test_revocation_is_seen_within_cache_ttl_of_the_answer_in_every_worker(
    server: IntrospectionServer, clock: Clock, driver: Driver
) -> None:
    """A worker that read a shared answer late keeps it only for what is left of cache_ttl."""
    store = MemoryStore(clock=clock)
    token = server.mint_opaque()
    async with (
        server.verifier(store=store, cache_ttl=60) as one,
        server.verifier(store=store, cache_ttl=60) as two,
    ):
        await driver.verify(one, token)  # the issuer's answer, at t0
        clock.advance(50)
        await driver.verify(two, token)  # read from the store at t0 + 50
        server.revoke(token)
        clock.advance(11)  # t0 + 61: past cache_ttl of the answer
        with pytest.raises(InvalidToken) as caught:
            await driver.verify(two, token)
    assert caught.value.reason == "inactive"


def test_an_answers_age_survives_the_store_and_a_future_time_does_not_extend_it() -> None:
    """Entry keeps fetched_at through encode/decode; a fetched_at ahead of now counts as now."""
    policy = CachePolicy(cache_ttl=60, inactive_ttl=5)
    entry = Entry({"active": True, "exp": 2_000_000_000}, 1_700_000_000.0)
    decoded = Entry.decode(entry.encode())
    assert decoded == entry
    assert policy.deadline(entry, 1_700_000_030.0) == 1_700_000_060.0
    ahead = Entry({"active": True, "exp": 2_000_000_000}, 1_700_000_500.0)
    assert policy.deadline(ahead, 1_700_000_000.0) == 1_700_000_060.0
    assert policy.deadline(Entry({"active": False}, 1_700_000_000.0), 0) == 5.0


@pytest.mark.parametrize("status", [400, 413, 422])
async def test_one_tokens_bad_answer_is_that_tokens_401(
    server: IntrospectionServer, status: int, caplog: pytest.LogCaptureFixture, driver: Driver
) -> None:
    """The issuer refusing one odd token is 401 for it; the next token is asked and accepted."""
    caplog.set_level(logging.DEBUG, logger="okta_bearer")
    odd = server.mint_opaque()
    answer = httpx.Response(status, json={"error": "invalid_request"})
    async with server.verifier(transport=_refusing(server, odd, answer)) as verifier:
        with pytest.raises(InvalidToken) as caught:
            await driver.verify(verifier, odd)
        claims = await driver.verify(verifier, server.mint_opaque())
    assert caught.value.status == 401
    assert claims.client_id == server.local.client_id
    assert server.count("/v1/introspect") == 2
    assert "refused our client credentials" not in caplog.text
    assert "treated as not active" in caplog.text


def _failing(kind: str) -> httpx.Response | None:
    answers = {
        "500": httpx.Response(500),
        "503": httpx.Response(503),
        "429": httpx.Response(429, headers={"retry-after": "30"}),
        "401": httpx.Response(401, json={"error": "invalid_client"}),
        "403": httpx.Response(403),
        "404": httpx.Response(404),
    }
    return answers.get(kind)


@pytest.mark.parametrize("kind", ["500", "503", "429", "401", "403", "404", "connect", "timeout"])
async def test_endpoint_failures_back_off_for_new_tokens_only(
    server: IntrospectionServer, clock: Clock, kind: str, driver: Driver
) -> None:
    """After an endpoint failure new tokens fail fast; an answer cached in the store still works."""
    store = MemoryStore(clock=clock)
    cached = server.mint_opaque()
    failing = {"on": False}

    def failing_now(request: httpx.Request) -> bool:
        return failing["on"] and request.url.path.endswith("/v1/introspect")

    def handler(request: httpx.Request) -> httpx.Response:
        if failing_now(request):
            server.requests.append(request)
            if kind == "connect":
                raise httpx.ConnectError("refused", request=request)
            answer = _failing(kind)
            assert answer is not None
            return answer
        return server.handler(request)

    def delay(request: httpx.Request) -> float:
        if kind == "timeout" and failing_now(request):
            server.requests.append(request)  # counted as sent: it never gets an answer
            return 30.0
        return 0.0

    transport = Delayed(handler, delay)
    async with (
        server.verifier(store=store) as one,
        server.verifier(store=store, transport=transport, local_cache_size=0, timeout=0.2) as two,
    ):
        await driver.verify(one, cached)
        failing["on"] = True
        with pytest.raises(IntrospectionUnavailable) as first:
            await driver.verify(two, server.mint_opaque())
        calls = server.count("/v1/introspect")
        with pytest.raises(IntrospectionUnavailable) as fast:
            await driver.verify(two, server.mint_opaque())
        assert server.count("/v1/introspect") == calls  # failed fast, no call
        assert (await driver.verify(two, cached)).client_id == server.local.client_id
        expected = 30 if kind == "429" else 5
        assert first.value.retry_after == fast.value.retry_after == expected
        failing["on"] = False
        clock.advance(expected + 1)
        await driver.verify(two, server.mint_opaque())


async def test_a_malformed_answer_is_503_for_that_request_only(
    server: IntrospectionServer, driver: Driver
) -> None:
    """A 200 that is not an answer is 503, but opens no backoff for other tokens."""
    odd = server.mint_opaque()
    answer = httpx.Response(200, content=b"<html>not json</html>")
    async with server.verifier(transport=_refusing(server, odd, answer)) as verifier:
        with pytest.raises(IntrospectionUnavailable):
            await driver.verify(verifier, odd)
        await driver.verify(verifier, server.mint_opaque())
    assert server.count("/v1/introspect") == 2


async def test_a_retry_after_beyond_the_cap_is_capped(
    server: IntrospectionServer, clock: Clock, driver: Driver
) -> None:
    """A 429 asking for a 400-digit wait backs off for 300 s at most, never raises."""
    server.answer_override = httpx.Response(429, headers={"retry-after": "9" * 400})
    async with server.verifier() as verifier:
        with pytest.raises(IntrospectionUnavailable) as caught:
            await driver.verify(verifier, server.mint_opaque())
    assert caught.value.retry_after == 300


async def test_an_inactive_answer_with_otherwise_valid_claims_is_401(
    server: IntrospectionServer, driver: Driver
) -> None:
    """active: false with every other claim valid (a revoked token) is 401 inactive."""
    token = server.mint_opaque()
    server.answer_override = httpx.Response(
        200, json={**server.registry.answer(token), "active": False}
    )
    async with server.verifier() as verifier:
        with pytest.raises(InvalidToken) as caught:
            await driver.verify(verifier, token)
    assert caught.value.status == 401
    assert caught.value.reason == "inactive"


async def test_a_second_client_sharing_the_store_never_reads_the_firsts_answers(
    server: IntrospectionServer, driver: Driver
) -> None:
    """Another client id (same issuer, same store) asks for itself: here it is refused, so 503."""
    store = MemoryStore()
    token = server.mint_opaque()
    async with (
        server.verifier(store=store) as first,
        server.verifier(
            store=store, client_id="0oaanotherclient", client_secret="its-own-secret"
        ) as second,
    ):
        await driver.verify(first, token)
        with pytest.raises(IntrospectionUnavailable):
            await driver.verify(second, token)
    assert server.count("/v1/introspect") == 2
