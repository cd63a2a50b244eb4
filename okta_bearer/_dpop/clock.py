"""The DPoP guard's clock: wall-clock time that a backward step cannot rewind (pure).

A proof's ``iat`` is a wall-clock time, so the proof window is judged on the
wall clock; the replay mark that guards the window lives in a store that
counts real (elapsed) seconds: ``PX`` in Redis, ``time.monotonic`` in
:class:`~okta_bearer.MemoryStore`.  If the wall clock stepped back after a
proof was used, the proof would be inside its window again once its mark had
expired.  So the guard reads :class:`SteadyClock`: the wall clock, except that
it never advances slower than :data:`MIN_RATE` seconds per real second; a
step back of ``D`` seconds is absorbed over ``D / (1 - MIN_RATE)`` real
seconds.  Marks are kept ``window / MIN_RATE`` (plus a second): by the time
one expires, the guard's clock has moved a whole window past the mark, so
the proof it guarded is stale whatever the wall clock did (RFC 9449 section
11.1).  The price of a large step back (``D`` over ``max_age``): proofs made
on the corrected clock look up to ``D`` seconds old, so they are refused as
stale for up to ``(D - max_age) / (1 - MIN_RATE)`` seconds.  Forward steps
are followed at once.  The guarantee is per process: replicas must keep
their clocks synchronised, as for any ``iat`` check.
"""

from __future__ import annotations

import math
from collections.abc import Callable

__all__ = ["MIN_RATE", "SteadyClock", "mark_ttl"]

#: The slowest the guard's clock runs, in seconds per real second.
MIN_RATE = 0.5


def mark_ttl(window: float) -> float:
    """How long a replay mark is kept for a proof acceptable for ``window`` seconds."""
    return window / MIN_RATE + 1.0


class SteadyClock:
    """Seconds since the epoch, never running slower than :data:`MIN_RATE` of real time.

    Args:
        wall: the wall clock (``time.time``).
        monotonic: real elapsed seconds (``time.monotonic``).
    """

    __slots__ = ("_last", "_last_real", "_monotonic", "_wall")

    def __init__(self, wall: Callable[[], float], monotonic: Callable[[], float]) -> None:
        self._wall = wall
        self._monotonic = monotonic
        self._last = -math.inf
        self._last_real = monotonic()

    def __call__(self) -> float:
        wall = self._wall()
        real = self._monotonic()
        floor = self._last + (real - self._last_real) * MIN_RATE
        now = wall if wall >= floor else floor
        self._last, self._last_real = now, real
        return now
