"""Introspection's decisions, no I/O: what an answer means, how long to keep it, when to stop.

Every function here is a function of its arguments (``now`` included), like
``_jwt/validation.py``, so the async verifier and any other driver (a sync
one, say) share one policy and differ only in how they send requests:

* :func:`parse_answer`: a body is an answer only if it is a JSON object with a
  boolean ``active`` (RFC 7662 section 2.2), at most :data:`MAX_DEPTH` deep,
  with no ``NaN``/``Infinity`` and no float beyond range (``1e400``).
* :func:`outcome`: what an HTTP status says.  A 200 is an answer.  A 400
  (or 413, 414, 422) is about the token we sent (an odd token an issuer
  refuses to parse): that token is treated as not active, and nothing else
  changes.  Any other status (401/403 to our credentials, 429, 5xx, a
  redirect, a 404 from a wrong endpoint) is a failure of the endpoint itself.
* :class:`CachePolicy`: an active answer is kept ``cache_ttl`` from the moment
  the issuer gave it, never past its ``exp`` (no leeway: leeway tolerates
  clock skew in a check, it does not extend a cache entry); ``active: false``
  for ``inactive_ttl``.  The moment travels with the answer (:class:`Entry`)
  through a shared store, so a worker reading it later keeps it only for what
  is left: revocation is seen within ``cache_ttl`` of the issuer's answer in
  every worker.
* :class:`Backoff`: after an endpoint failure, new tokens fail fast (503) for
  ``retry_after`` seconds, or for the endpoint's own ``Retry-After``
  (:func:`retry_after_seconds`, capped at :data:`MAX_RETRY_AFTER`); answers
  already cached keep working.
* :class:`TokenBucket`: at most ``rate`` calls a second (a burst of ``rate``)
  leave a process; :func:`window_key` names the fleet-wide counter of the
  same budget in a shared store.
"""

from __future__ import annotations

import email.utils
import json
import math
from dataclasses import dataclass
from typing import Any, Literal

__all__ = [
    "MAX_DEPTH",
    "MAX_RETRY_AFTER",
    "Backoff",
    "CachePolicy",
    "Entry",
    "TokenBucket",
    "epoch_seconds",
    "outcome",
    "parse_answer",
    "parse_json",
    "retry_after_seconds",
    "window_key",
]

#: Deepest nesting accepted in an answer (objects and arrays); deeper is malformed.
MAX_DEPTH = 32
#: Longest ``Retry-After`` honoured (seconds): a mistaken one must not lock new tokens out for days.
MAX_RETRY_AFTER = 300

# datetime's range as epoch seconds: a time outside it is no time at all.
_MIN_TIME = -62_135_596_800
_MAX_TIME = 253_402_300_799

#: Statuses an issuer gives to a token it cannot parse (RFC 6749 section 5.2 ``invalid_request``).
_TOKEN_REFUSED = frozenset({400, 413, 414, 422})

Outcome = Literal["answer", "token_refused", "endpoint_failed"]


def _refuse_constant(name: str) -> float:
    raise ValueError(f"{name} is not JSON")  # NaN, Infinity: Python's extension, not RFC 8259


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e400: no number a claim can hold, nor one we could store
        raise ValueError("number out of range")
    return value


def _depth_ok(value: Any) -> bool:
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > MAX_DEPTH:
            return False
        stack.extend((child, depth + 1) for child in children)
    return True


def parse_json(body: bytes | str) -> Any:
    """Strict JSON, at most :data:`MAX_DEPTH` deep; raises ``ValueError`` otherwise."""
    try:
        value = json.loads(body, parse_constant=_refuse_constant, parse_float=_finite_float)
    except RecursionError as exc:
        raise ValueError("JSON nested too deep") from exc
    if not _depth_ok(value):
        raise ValueError("JSON nested too deep")
    return value


def parse_answer(body: bytes | str) -> dict[str, Any] | None:
    """The answer as a dict with a boolean ``active`` (RFC 7662 section 2.2), else ``None``."""
    try:
        answer = parse_json(body)
    except ValueError:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        return None
    if not isinstance(answer, dict) or not isinstance(answer.get("active"), bool):
        return None
    return answer


def epoch_seconds(value: object) -> float | None:
    """A JSON number usable as a time (finite, within years 1-9999), else ``None``.

    ``None`` for booleans, strings, 400-digit integers and ``1e400``; never raises.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if not _MIN_TIME <= value <= _MAX_TIME:  # compares big ints exactly, no float()
        return None
    return float(value)


def outcome(status: int) -> Outcome:
    """What an introspection endpoint's HTTP status says (see the module docstring)."""
    if status == 200:
        return "answer"
    if status in _TOKEN_REFUSED:
        return "token_refused"
    return "endpoint_failed"


def retry_after_seconds(header: str | None, now: float) -> int | None:
    """Seconds a ``Retry-After`` (RFC 9110 section 10.2.3) asks for, capped; else ``None``."""
    if not header:
        return None
    value = header.strip()
    if value.isdecimal() and value.isascii():
        seconds: float = int(value[:12])  # a 400-digit value is "very long": capped below
    else:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
        if when.tzinfo is None:
            return None
        seconds = when.timestamp() - now
    return max(1, min(MAX_RETRY_AFTER, math.ceil(seconds)))


@dataclass(frozen=True, slots=True)
class Entry:
    """An introspection answer and when (epoch seconds) the issuer gave it."""

    answer: dict[str, Any]
    fetched_at: float

    def encode(self) -> bytes:
        """The form kept in a shared store."""
        return json.dumps({"fetched_at": self.fetched_at, "answer": self.answer}).encode()

    @classmethod
    def decode(cls, data: bytes) -> Entry | None:
        """Read what :meth:`encode` wrote; ``None`` for anything else (old or foreign entries)."""
        try:
            value = parse_json(data)
        except ValueError:
            return None
        if not isinstance(value, dict):
            return None
        answer = value.get("answer")
        fetched_at = epoch_seconds(value.get("fetched_at"))
        if fetched_at is None or not isinstance(answer, dict):
            return None
        if not isinstance(answer.get("active"), bool):
            return None
        return cls(answer, fetched_at)


@dataclass(frozen=True, slots=True)
class CachePolicy:
    """How long answers are kept (see the module docstring)."""

    cache_ttl: float
    inactive_ttl: float

    def deadline(self, entry: Entry, now: float) -> float:
        """Epoch seconds until which ``entry`` may be used; ``<= now`` means not at all."""
        # A fetched_at in the future (another worker's clock ahead) does not extend it.
        fetched_at = min(entry.fetched_at, now)
        if entry.answer["active"] is not True:
            return fetched_at + self.inactive_ttl
        exp = epoch_seconds(entry.answer.get("exp"))
        if exp is None:
            return -math.inf  # refused by the claim checks anyway: nothing to keep
        return min(fetched_at + self.cache_ttl, exp)


class Backoff:
    """Whether new lookups should fail fast after the endpoint failed."""

    def __init__(self) -> None:
        self.until = -math.inf

    def failed(self, now: float, seconds: float) -> None:
        """The endpoint failed at ``now``: fail fast for ``seconds``."""
        self.until = max(self.until, now + seconds)

    def remaining(self, now: float) -> int | None:
        """Whole seconds left to fail fast (for ``Retry-After``); ``None`` when asking is fine."""
        if now >= self.until:
            return None
        return max(1, math.ceil(self.until - now))


class TokenBucket:
    """At most ``rate`` takes a second, in bursts of at most ``rate``."""

    def __init__(self, rate: float, now: float) -> None:
        self.rate = rate
        self._tokens = rate
        self._at = now

    def take(self, now: float) -> bool:
        """Take one call from the budget at ``now``; ``False`` when it is spent."""
        # A clock that stepped back refills nothing (and takes nothing away).
        elapsed = max(0.0, now - self._at)
        self._at = max(self._at, now)
        self._tokens = min(self.rate, self._tokens + elapsed * self.rate)
        if self._tokens < 1:
            return False
        self._tokens -= 1
        return True


def window_key(namespace: str, now: float) -> str:
    """The store key counting a fleet's calls in the clock second holding ``now``."""
    return f"{namespace}:rate:{math.floor(now)}"
