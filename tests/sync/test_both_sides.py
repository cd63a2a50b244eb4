"""The key policy's promises, each proven through verify() and verify_sync() alike."""

from __future__ import annotations

import httpx
import pytest

from okta_bearer import ConfigurationError, KeyPolicy, KeysUnavailable, TokenVerifier
from okta_bearer._events import Events

from .conftest import AUDIENCE, ISSUER, Driver, World, status

KEYS_MAX_AGE = 3600  # LocalIssuer's Cache-Control: max-age on the JWKS
BACKOFF = KeyPolicy().retry_backoff


@pytest.mark.parametrize("after", [1.0, KEYS_MAX_AGE - 20], ids=["start-up", "scheduled-refresh"])
def test_a_rotated_key_is_accepted_on_its_first_request(world: World, after: float) -> None:
    """A token signed by a key published a second after any fetch passes on its first try."""
    assert world.reason(world.token()) == "ok"
    world.clock.advance(after)
    if after > 1:  # inside refresh-ahead: a scheduled refresh runs now
        assert world.reason(world.token()) == "ok"
        world.driver.settle(world.verifier)
        assert world.server.count("jwks") == 2
        world.clock.advance(1)
    fetched = world.server.count("jwks")
    world.issuer.rotate()
    assert world.reason(world.token()) == "ok"
    assert world.server.count("jwks") == fetched + 1


def test_an_unknown_kid_flood_costs_one_fetch_per_interval(world: World) -> None:
    """60 random kids over 30 s cost at most one refetch per unknown_kid_interval (5 s)."""
    assert world.reason(world.token()) == "ok"
    reasons = set()
    for step in range(60):
        world.clock.advance(0.5)
        reasons.add(world.reason(world.issuer.mint(header={"kid": f"random{step}"})))
    assert reasons == {"unknown_kid"}
    assert 1 + 1 <= world.server.count("jwks") <= 1 + 6


def test_a_failed_refresh_keeps_the_good_keys(world: World) -> None:
    """A refresh answering garbage never wipes the keys that work."""
    assert world.reason(world.token()) == "ok"
    world.server.faults["jwks"] = lambda request: httpx.Response(200, content=b"<html>")
    world.clock.advance(KEYS_MAX_AGE + 1)
    assert world.reason(world.token()) == "ok"
    world.driver.settle(world.verifier)
    world.clock.advance(BACKOFF)
    assert world.reason(world.token()) == "ok"
    assert world.server.count("jwks") >= 2


def test_stale_keys_serve_until_max_stale_then_503_with_retry_after(driver: Driver) -> None:
    """During an outage known keys serve past their TTL up to max_stale; then 503 + Retry-After."""
    world = World(driver, keys=KeyPolicy(timeout=0.5, max_stale=600))
    assert world.reason(world.token()) == "ok"
    world.server.faults["jwks"] = status(500)
    world.clock.advance(KEYS_MAX_AGE + 1)
    for _ in range(3):
        assert world.reason(world.token()) == "ok"
        driver.settle(world.verifier)
        world.clock.advance(BACKOFF)
    assert world.server.count("jwks") >= 3
    world.clock.advance(600)
    with pytest.raises(KeysUnavailable) as unavailable:
        driver.verify(world.verifier, world.token())
    assert unavailable.value.retry_after >= 1


def test_a_withdrawn_key_takes_its_cached_tokens_along(world: World) -> None:
    """Once a refresh no longer lists a key, its tokens are refused, cached ones included."""
    old_key = world.issuer.signing_key
    cached = world.token()
    assert world.reason(cached) == "ok"
    assert world.reason(cached) == "ok"  # now a verified-token cache hit
    world.issuer.rotate(keep_old=False)
    world.clock.advance(1)
    assert world.reason(world.token()) == "ok"  # the refetch that drops the old key
    assert world.server.count("jwks") == 2
    assert world.reason(world.issuer.mint(key=old_key)) == "unknown_kid"
    assert world.reason(cached) == "unknown_kid"


def test_a_scheduled_refresh_also_withdraws_cached_tokens(world: World) -> None:
    """A key dropped at a background refresh takes its cached tokens with it."""
    cached = world.token()
    assert world.reason(cached) == "ok"
    world.issuer.rotate(keep_old=False)
    world.clock.advance(KEYS_MAX_AGE - 20)
    world.reason(world.token())
    world.driver.settle(world.verifier)
    assert world.server.count("jwks") >= 2
    assert world.reason(cached) == "unknown_kid"


def test_after_a_failure_no_fetch_starts_within_the_backoff(world: World) -> None:
    """A failed cold fetch is 503; within the backoff nothing is sent; after it, recovery."""
    world.server.faults["jwks"] = status(500)
    with pytest.raises(KeysUnavailable) as unavailable:
        world.driver.verify(world.verifier, world.token())
    assert 1 <= unavailable.value.retry_after <= BACKOFF
    fetched = world.server.count("jwks")
    world.server.faults.clear()
    world.clock.advance(BACKOFF - 1)
    assert world.reason(world.token()) == "keys_unavailable"
    assert world.server.count("jwks") == fetched
    world.clock.advance(1)
    assert world.reason(world.token()) == "ok"
    assert world.server.count("jwks") == fetched + 1


def test_an_unknown_kid_during_an_outage_is_503_on_every_try(world: World) -> None:
    """While keys cannot be fetched, an unknown kid is 503, never 401."""
    assert world.reason(world.token()) == "ok"
    world.issuer.rotate()
    world.server.faults["jwks"] = status(500)
    new_token = world.token()
    reasons = set()
    for _ in range(30):
        world.clock.advance(0.5)
        reasons.add(world.reason(new_token))
    assert reasons == {"keys_unavailable"}
    assert world.server.count("jwks") <= 1 + 4


class AsyncOnly(httpx.AsyncBaseTransport):
    """A transport only the async side can use."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        raise AssertionError("never used")


class SyncOnly(httpx.BaseTransport):
    """A transport only the sync side can use."""

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        raise AssertionError("never used")


def test_a_transport_of_the_other_kind_is_refused_naming_transport(world: World) -> None:
    """verify() needs an async transport, verify_sync() a sync one: else ConfigurationError."""
    transport = SyncOnly() if world.driver.side == "async" else AsyncOnly()
    verifier = TokenVerifier(ISSUER, AUDIENCE, transport=transport)
    with pytest.raises(ConfigurationError, match="transport"):
        world.driver.verify(verifier, world.token())


def test_a_transport_of_neither_kind_is_refused_at_construction() -> None:
    """An object that is no httpx transport at all is refused when the verifier is built."""
    with pytest.raises(ConfigurationError, match="transport"):
        TokenVerifier(ISSUER, AUDIENCE, transport=object())  # type: ignore[arg-type]


class Recorder(Events):
    """Keeps the cache and fetch hook calls, in order."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, bool]] = []

    def request(self, outcome: str, reason: str, seconds: float) -> None:
        raise AssertionError("the verifier reports no requests")

    def fetch(self, kind: str, issuer: str, ok: bool, seconds: float) -> None:
        self.calls.append(("fetch", kind, ok))

    def cache(self, kind: str, hit: bool) -> None:
        self.calls.append(("cache", kind, hit))


def test_both_sides_report_the_same_events(driver: Driver) -> None:
    """A cold verify, a cached one and a failed refetch call the same hooks on either side."""
    events = Recorder()
    world = World(driver, events=events)
    token = world.token()
    assert world.reason(token) == "ok"
    assert world.reason(token) == "ok"
    world.server.faults["jwks"] = status(500)
    world.clock.advance(1)
    assert world.reason(world.issuer.mint(header={"kid": "new"})) == "keys_unavailable"
    assert events.calls == [
        ("cache", "token", False),
        ("cache", "keys", False),
        ("fetch", "discovery", True),
        ("fetch", "jwks", True),
        ("cache", "token", True),
        ("cache", "token", False),
        ("cache", "keys", False),
        ("fetch", "jwks", False),
    ]
