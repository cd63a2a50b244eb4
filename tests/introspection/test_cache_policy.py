"""The pure introspection policy: statuses, Retry-After, the token bucket, strict answers."""

from __future__ import annotations

import email.utils

import pytest

from okta_bearer._opaque.cache_policy import (
    Backoff,
    TokenBucket,
    epoch_seconds,
    outcome,
    parse_answer,
    retry_after_seconds,
    window_key,
)

NOW = 1_700_000_000.0


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (200, "answer"),
        (400, "token_refused"),
        (413, "token_refused"),
        (401, "endpoint_failed"),
        (403, "endpoint_failed"),
        (404, "endpoint_failed"),
        (429, "endpoint_failed"),
        (302, "endpoint_failed"),
        (500, "endpoint_failed"),
    ],
)
def test_a_status_says_whose_problem_it_is(status: int, expected: str) -> None:
    """200 is an answer, 400-like statuses are the token's, everything else the endpoint's."""
    assert outcome(status) == expected


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("30", 30),
        ("0", 1),
        ("9" * 400, 300),
        (email.utils.formatdate(NOW + 42, usegmt=True), 42),
        (email.utils.formatdate(NOW - 42, usegmt=True), 1),
        ("soon", None),
        ("-5", None),
        ("", None),
        (None, None),
        ("\u0661\u0662", None),  # Arabic-Indic digits are decimal to Python, not to HTTP
    ],
)
def test_retry_after_is_read_capped_and_never_raises(
    header: str | None, seconds: int | None
) -> None:
    """Retry-After as seconds or an HTTP-date, between 1 and 300 s; anything else is ignored."""
    assert retry_after_seconds(header, NOW) == seconds


def test_the_token_bucket_refills_at_its_rate_and_ignores_a_clock_step_back() -> None:
    """rate takes at once, then one per 1/rate seconds; a clock stepping back refills nothing."""
    bucket = TokenBucket(4, NOW)
    assert [bucket.take(NOW) for _ in range(5)] == [True] * 4 + [False]
    assert bucket.take(NOW + 0.25)
    assert not bucket.take(NOW + 0.25)
    assert not bucket.take(NOW - 100)
    assert not bucket.take(NOW + 0.3)


def test_backoff_counts_down_in_whole_seconds() -> None:
    """After a failure, remaining() gives the seconds to announce, then None."""
    backoff = Backoff()
    assert backoff.remaining(NOW) is None
    backoff.failed(NOW, 5)
    assert backoff.remaining(NOW + 0.5) == 5
    assert backoff.remaining(NOW + 4.2) == 1
    assert backoff.remaining(NOW + 5) is None


@pytest.mark.parametrize(
    "value", [True, "1700000000", 10**400, -(10**400), float("inf"), float("nan"), 1e300, None]
)
def test_a_time_that_is_no_time_is_none(value: object) -> None:
    """Booleans, strings, huge numbers and non-finite floats are no epoch time (never raises)."""
    assert epoch_seconds(value) is None


@pytest.mark.parametrize(
    "body",
    [
        b'{"active": true, "exp": NaN}',
        b'{"active": true, "exp": Infinity}',
        b'{"active": true, "exp": 1e400}',
        b'{"active": true, "x": ' + b"[" * 40 + b"]" * 40 + b"}",
        b'{"active": "true"}',
        b"\xff\xfe",
        b"[]",
    ],
)
def test_only_strict_shallow_json_objects_with_a_boolean_active_are_answers(body: bytes) -> None:
    """NaN, Infinity, floats beyond range, deep nesting, bad bytes or shapes: not an answer."""
    assert parse_answer(body) is None


def test_the_fleet_counter_is_one_key_per_clock_second() -> None:
    """Calls in one clock second share a counter; the next second has its own."""
    assert window_key("ns", NOW + 0.1) == window_key("ns", NOW + 0.9) == "ns:rate:1700000000"
    assert window_key("ns", NOW + 1.0) != window_key("ns", NOW)
