"""The key policy alone: pure decisions, driven by hand with the time passed in."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import pytest

from okta_bearer import InvalidToken, KeyPolicy, KeysUnavailable
from okta_bearer._keys.policy import REFRESH_AHEAD, KeySetPolicy, Lookup, Refresh

T = TypeVar("T")
T0 = 1_000_000.0
TTL = 3600.0


def check(name: str) -> Any:
    """A stand-in signature check (the policy only hands it back)."""
    return name


KEYS = {"k1": {"RS256": check("k1")}, "k2": {"RS256": check("k2")}}


def drive(lookup: Lookup[T], on_refresh: Callable[[Refresh], float]) -> tuple[T, list[Refresh]]:
    """Run a decision, answering each Refresh with ``on_refresh``; the result and the requests."""
    asked: list[Refresh] = []
    try:
        request = next(lookup)
        while True:
            asked.append(request)
            request = lookup.send(on_refresh(request))
    except StopIteration as stop:
        return stop.value, asked


def fetching(policy: KeySetPolicy, keys: Any, now: float) -> Callable[[Refresh], float]:
    """A driver whose refreshes succeed with ``keys`` at ``now``."""

    def on_refresh(request: Refresh) -> float:
        if request.start:
            policy.installed(keys, now, TTL)
        return now

    return on_refresh


def failing(policy: KeySetPolicy, now: float) -> Callable[[Refresh], float]:
    """A driver whose refreshes fail at ``now``."""

    def on_refresh(request: Refresh) -> float:
        if request.start:
            policy.failed(now, "HTTP 500")
        return now

    return on_refresh


def warm(settings: KeyPolicy | None = None) -> KeySetPolicy:
    """A policy holding KEYS fetched at T0."""
    policy = KeySetPolicy(settings or KeyPolicy())
    policy.installed(KEYS, T0, TTL)
    return policy


def test_a_cold_lookup_starts_one_refresh_and_waits_for_it() -> None:
    """With no keys, the lookup asks for a refresh it waits on, then answers from its keys."""
    policy = KeySetPolicy(KeyPolicy())
    result, asked = drive(policy.lookup("k1", "RS256", T0), fetching(policy, KEYS, T0))
    assert str(result) == "k1"
    assert asked == [Refresh(None, start=True, wait=True)]


def test_a_lookup_during_a_refresh_waits_for_it_without_starting_another() -> None:
    """While a refresh is in flight, a cold lookup waits for that one (single-flight)."""
    policy = KeySetPolicy(KeyPolicy())
    first = policy.lookup("k1", "RS256", T0)
    assert next(first).start
    second = policy.lookup("k1", "RS256", T0)
    assert next(second) == Refresh(None, start=False, wait=True)
    policy.installed(KEYS, T0, TTL)
    with pytest.raises(StopIteration) as stop:
        second.send(T0)
    assert str(stop.value.value) == "k1"


def test_known_keys_answer_with_no_refresh() -> None:
    """A known kid inside the TTL needs nothing from the driver."""
    policy = warm()
    result, asked = drive(policy.lookup("k2", "RS256", T0 + 10), failing(policy, T0))
    assert str(result) == "k2"
    assert asked == []
    assert policy.is_hit("k2", T0 + 10)


def test_refresh_ahead_starts_in_the_background_and_answers_at_once() -> None:
    """Inside the refresh-ahead window one background refresh starts; lookups do not wait."""
    policy = warm()
    now = T0 + TTL - REFRESH_AHEAD + 1
    result, asked = drive(policy.lookup("k1", "RS256", now), lambda r: now)
    assert str(result) == "k1"
    assert asked == [Refresh(None, start=True, wait=False, ours_fetched_at=T0)]
    again, asked = drive(policy.lookup("k1", "RS256", now), lambda r: now)
    assert str(again) == "k1"
    assert asked == []  # already in flight: no second start


def test_an_unknown_kid_refetches_at_once_then_at_most_once_per_interval() -> None:
    """A new kid causes an immediate refetch; a flood of unknown kids one per interval."""
    policy = warm()
    now = T0 + 1  # a second after the last fetch: a rotation is still picked up at once
    newer = {**KEYS, "k3": {"RS256": check("k3")}}
    result, asked = drive(policy.lookup("k3", "RS256", now), fetching(policy, newer, now))
    assert str(result) == "k3"
    assert asked == [Refresh("k3", start=True, wait=True, ours_fetched_at=T0)]
    refetches = 0
    for step in range(60):  # one random kid every 0.5 s for 30 s
        t = now + 0.5 * (step + 1)

        def count(request: Refresh, t: float = t) -> float:
            nonlocal refetches
            refetches += request.start
            policy.installed(newer, t, TTL)
            return t

        with pytest.raises(InvalidToken) as refused:
            drive(policy.lookup(f"random{step}", "RS256", t), count)
        assert refused.value.reason == "unknown_kid"
    assert refetches == 30 // 5  # unknown_kid_interval is 5 s


def test_a_key_that_does_not_fit_the_algorithm_is_key_mismatch() -> None:
    """A kid known only for another algorithm is refused as key_mismatch (401)."""
    policy = warm()
    with pytest.raises(InvalidToken) as refused:
        drive(policy.lookup("k1", "ES256", T0), lambda r: T0)
    assert refused.value.reason == "key_mismatch"


def test_a_failed_cold_refresh_is_503_and_backs_off() -> None:
    """No keys and a failed fetch: 503 with Retry-After = backoff, no new fetch until it ends."""
    policy = KeySetPolicy(KeyPolicy())
    backoff = KeyPolicy().retry_backoff
    with pytest.raises(KeysUnavailable) as unavailable:
        drive(policy.lookup("k1", "RS256", T0), failing(policy, T0))
    assert unavailable.value.retry_after == backoff
    with pytest.raises(KeysUnavailable) as later:
        _, asked = drive(policy.lookup("k1", "RS256", T0 + 2), failing(policy, T0))
    assert later.value.retry_after == backoff - 2
    _, asked = drive(
        policy.lookup("k1", "RS256", T0 + backoff), fetching(policy, KEYS, T0 + backoff)
    )
    assert [r.start for r in asked] == [True]


def test_a_failed_refresh_keeps_the_good_keys_until_max_stale() -> None:
    """Past expiry with the issuer failing, the last keys serve until max_stale, then 503."""
    policy = warm(KeyPolicy(max_stale=600))
    expired = T0 + TTL + 1
    result, asked = drive(policy.lookup("k1", "RS256", expired), failing(policy, expired))
    assert str(result) == "k1"
    assert [r.wait for r in asked] == [False]  # a background refresh, which failed
    assert policy.keyset is not None
    assert policy.failing
    with pytest.raises(KeysUnavailable) as unavailable:
        drive(policy.lookup("k1", "RS256", T0 + TTL + 600), failing(policy, T0 + TTL + 600))
    assert unavailable.value.retry_after >= 1


def test_an_unknown_kid_while_the_issuer_fails_is_503_never_401() -> None:
    """The token may be signed by a key we could not load: 503, not the token's fault."""
    policy = warm()
    policy.failed(T0 + 1, "HTTP 500")
    with pytest.raises(KeysUnavailable):
        drive(policy.lookup("new", "RS256", T0 + 2), failing(policy, T0 + 2))
    with pytest.raises(KeysUnavailable):  # past the backoff: one more try, which fails too
        drive(policy.lookup("new", "RS256", T0 + 7), failing(policy, T0 + 7))


def test_a_refresh_reports_the_kids_it_withdraws() -> None:
    """installed() names the kids the new set no longer lists."""
    policy = warm()
    assert policy.installed({"k2": KEYS["k2"]}, T0 + 10, TTL) == {"k1"}
    assert policy.kids == {"k2"}


def test_unavailable_before_any_failure_still_has_a_retry_after() -> None:
    """A 503 without a recorded failure (a waiter that gave up) says Retry-After: 1."""
    assert KeySetPolicy(KeyPolicy()).unavailable(T0).retry_after == 1


def test_warm_up_returns_why_keys_are_not_ready() -> None:
    """warm_up is None when fresh keys are here, else the failure's wording."""
    policy = KeySetPolicy(KeyPolicy())
    why, _ = drive(policy.warm_up(T0), failing(policy, T0))
    assert why == "HTTP 500"
    ready, asked = drive(warm().warm_up(T0), failing(policy, T0))
    assert (ready, asked) == (None, [])


def test_ready_answers_only_when_nothing_is_due() -> None:
    """The hot path answers a fresh set's known kid, and defers everything else to lookup."""
    policy = KeySetPolicy(KeyPolicy())
    assert policy.ready("k1", "RS256", T0) is None  # cold: a fetch is due
    policy.installed(KEYS, T0, TTL)
    assert str(policy.ready("k1", "RS256", T0 + 10)) == "k1"
    assert policy.ready("k3", "RS256", T0 + 10) is None  # unknown kid: refetch rules apply
    assert policy.ready("k1", "ES256", T0 + 10) is None  # mismatch: lookup says why
    assert policy.ready("k1", "RS256", T0 + TTL - REFRESH_AHEAD) is None  # refresh due
