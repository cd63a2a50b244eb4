"""Key sets shared by every process of a fleet through a :class:`~okta_bearer._store.memory.Store`.

The coordination is a flow (:mod:`okta_bearer._flow`): the same steps run
against an async store (ASGI) and a store's blocking face (WSGI threads).

Without a shared store each process fetches its own keys; with one, N
workers (or pods) make the same number of key fetches as one process:

* Before fetching, a process reads the shared copy.  It adopts it when it
  is fresh and answers the need: for a scheduled or cold refresh, any fresh
  copy newer than its own; for an unknown ``kid``, a copy that lists the kid,
  or one that an unknown kid caused within the unknown-kid interval (the
  fleet-wide rate limit).  A scheduled fetch a second ago does not count, so
  a rotation is seen at once.
* Otherwise it takes a short lease (``set_if_absent`` with a TTL and a random
  value of its own) and fetches from the issuer, then publishes the result and
  releases the lease (only while it still holds it: compare-and-delete).  Others
  that find the lease taken wait for the holder's copy instead of fetching;
  if the holder fails or dies (the lease expires), they fail this refresh and
  retry after the usual backoff, so an outage never multiplies fetches.
* If the store itself fails, the process fetches on its own (logged): the
  store is an optimisation for keys, never a single point of failure.
* The shared copy is keyed by everything that shapes it: the issuer, the
  configured ``jwks_uri`` (or none: discovered) and the algorithms keys are
  prepared for, so two APIs that differ in any of them never adopt each
  other's copy (keys ``keys:<digest>`` and ``keys:<digest>:lease``).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import math
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from .._events import Events
from .._flow import Flow, Pause, StoreCall
from .._store.memory import StoreUnavailable

__all__ = ["Fleet", "SharedKeys"]

logger = logging.getLogger("okta_bearer")

_POLL = 0.05


class FleetError(Exception):
    """The refresh another process was doing did not publish keys; safe to log."""


@dataclass(frozen=True, slots=True)
class SharedKeys:
    """A JWKS document as one process fetched it, with when and for how long."""

    jwks_uri: str
    document: Any
    fetched_at: float
    ttl: float
    for_unknown_kid: bool = False

    def kids(self) -> frozenset[str]:
        """The ``kid`` members listed, read without parsing any key."""
        keys = self.document.get("keys") if isinstance(self.document, dict) else None
        if not isinstance(keys, list):
            return frozenset()
        return frozenset(
            k["kid"] for k in keys if isinstance(k, dict) and isinstance(k.get("kid"), str)
        )

    def encode(self) -> bytes:
        """The form kept in the store."""
        return json.dumps(
            {
                "jwks_uri": self.jwks_uri,
                "jwks": self.document,
                "fetched_at": self.fetched_at,
                "ttl": self.ttl,
                "for_unknown_kid": self.for_unknown_kid,
            }
        ).encode()

    @classmethod
    def decode(cls, data: bytes) -> SharedKeys | None:
        """Read what :meth:`encode` wrote; ``None`` for anything else.

        ``fetched_at`` and ``ttl`` must be finite numbers (not booleans) and
        ``ttl`` not negative: a NaN would make the copy look fresh for ever
        (every comparison with it is false), a 400-digit integer overflows.
        """
        try:
            value = json.loads(data)
            fetched_at, ttl = _finite(value["fetched_at"]), _finite(value["ttl"])
            if fetched_at is None or ttl is None or ttl < 0:
                return None
            return cls(
                str(value["jwks_uri"]),
                value["jwks"],
                fetched_at,
                ttl,
                value.get("for_unknown_kid") is True,
            )
        except (ValueError, TypeError, KeyError, RecursionError, OverflowError):
            return None  # a 400-digit number overflows float(): not ours either


def shape_digest(issuer: str, jwks_uri: str | None, algorithms: Iterable[str]) -> str:
    """Names a shared key set by what shapes it: issuer, configured ``jwks_uri``, algorithms."""
    shape = json.dumps([issuer, jwks_uri, sorted(set(algorithms))])
    return hashlib.sha256(shape.encode()).hexdigest()[:32]


def _finite(value: object) -> float | None:
    """``value`` as a float when it is a finite JSON number, else ``None``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        number = float(value)
    except OverflowError:  # an integer too large for a float
        return None
    return number if math.isfinite(number) else None


#: Fetches from the issuer, as a flow: returns (jwks_uri, document, ttl).
Fetch = Callable[[], Flow[tuple[str, Any, float]]]


def _release(lease_key: str, holder: bytes) -> Flow[None]:
    # Compare-and-delete, as okta_bearer._store.lease.release, as a flow step:
    # never another holder's lease; one left behind expires on its own.
    with contextlib.suppress(StoreUnavailable):
        yield StoreCall("delete_if_equal", (lease_key, holder))


class Fleet:
    """Coordinates one issuer's key fetches through a shared store (as flows).

    The store itself is the driver's: :meth:`obtain` yields
    :class:`~okta_bearer._flow.StoreCall` steps, run against the async store
    by the async driver and against its blocking face by the sync one.

    Args:
        issuer: the issuer these keys belong to.
        jwks_uri: the configured JWKS URI, ``None`` when discovered.
        algorithms: the algorithms keys are prepared for.  With ``issuer`` and
            ``jwks_uri`` they name the shared copy in the store.
        clock: seconds since the epoch (every process must agree, as with
            token expiry).
        timeout: the refresh budget; the lease lives a little longer.
        interval: the unknown-kid interval of :class:`~okta_bearer.KeyPolicy`.
        refresh_ahead: seconds before expiry at which a copy is no longer fresh.
        max_stale: seconds the published copy outlives its freshness.
        events: metric hooks: ``cache("keys_shared", hit)``, a hit for each
            adopted copy, a miss for each fetch this process makes.
    """

    def __init__(
        self,
        *,
        issuer: str,
        jwks_uri: str | None,
        algorithms: Iterable[str],
        clock: Callable[[], float],
        timeout: float,
        interval: float,
        refresh_ahead: float,
        max_stale: float,
        events: Events | None = None,
    ) -> None:
        self._doc_key = f"keys:{shape_digest(issuer, jwks_uri, algorithms)}"
        self._lease_key = f"{self._doc_key}:lease"
        self._clock = clock
        self._timeout = timeout
        self._interval = interval
        self._refresh_ahead = refresh_ahead
        self._max_stale = max_stale
        self._issuer = issuer
        self._events = events
        #: Fetches this process made from the issuer, and copies it adopted.
        self.counts = {"fetched": 0, "adopted": 0}

    def obtain(self, fetch: Fetch, *, kid: str | None, ours_fetched_at: float) -> Flow[SharedKeys]:
        """A key set that answers the need, adopted or fetched under the lease (a flow).

        ``kid`` is the unknown kid that caused this refresh, ``None`` for a
        scheduled or cold refresh.

        Raises:
            FleetError: the lease holder's refresh failed or timed out.
            Whatever ``fetch`` raises, when this process fetched.
        """
        try:
            shared = yield from self._read()
            if shared is not None and self._answers(shared, kid, ours_fetched_at):
                return self._adopted(shared)
            holder = os.urandom(16)
            leased = yield StoreCall(
                "set_if_absent", (self._lease_key, holder, self._timeout + 1.0)
            )
            if not leased:
                return (yield from self._wait_for_holder(kid, ours_fetched_at))
        except (FleetError, TimeoutError):
            raise  # a timeout is the refresh budget running out, not a store failure
        except Exception as exc:  # the store failed: fetch alone, never fail because of it
            logger.warning(
                "okta_bearer: shared key store unavailable (%s); fetching keys of %s without it",
                type(exc).__name__,
                self._issuer,
                extra={"reason": "store_unavailable", "issuer": self._issuer},
            )
            return (yield from self._fetch(fetch, publish=False, kid=kid))
        try:
            return (yield from self._fetch(fetch, publish=True, kid=kid))
        finally:
            yield from _release(self._lease_key, holder)

    def _answers(self, shared: SharedKeys, kid: str | None, ours_fetched_at: float) -> bool:
        now = self._clock()
        if now >= shared.fetched_at + shared.ttl - self._refresh_ahead:
            return False  # not fresh: due for a refresh itself
        if shared.fetched_at > now + self._timeout:
            return False  # "fetched" in the future: it would never expire here

        if kid is None:
            return shared.fetched_at > ours_fetched_at or ours_fetched_at == float("-inf")
        if kid in shared.kids():
            return shared.fetched_at >= ours_fetched_at
        return shared.for_unknown_kid and now - shared.fetched_at < self._interval

    def _fetch(self, fetch: Fetch, *, publish: bool, kid: str | None) -> Flow[SharedKeys]:
        jwks_uri, document, ttl = yield from fetch()
        self.counts["fetched"] += 1
        if self._events is not None:
            self._events.cache("keys_shared", False)
        shared = SharedKeys(jwks_uri, document, self._clock(), ttl, kid is not None)
        if publish:
            try:
                yield StoreCall("set", (self._doc_key, shared.encode(), ttl + self._max_stale))
            except TimeoutError:
                raise
            except Exception as exc:
                logger.warning(
                    "okta_bearer: shared key store write failed (%s)", type(exc).__name__
                )
        return shared

    def _wait_for_holder(self, kid: str | None, ours_fetched_at: float) -> Flow[SharedKeys]:
        # Bounded by the driver's refresh budget (the runner's timeout).
        while True:
            yield Pause(_POLL)
            shared = yield from self._read()
            if (
                shared is not None
                and shared.fetched_at > ours_fetched_at
                and self._answers(shared, None, ours_fetched_at)
            ):
                return self._adopted(shared)
            if (yield StoreCall("get", (self._lease_key,))) is None:
                shared = yield from self._read()
                if shared is not None and self._answers(shared, kid, ours_fetched_at):
                    return self._adopted(shared)
                raise FleetError("another process's key refresh did not publish keys")

    def _adopted(self, shared: SharedKeys) -> SharedKeys:
        self.counts["adopted"] += 1
        if self._events is not None:
            self._events.cache("keys_shared", True)
        return shared

    def _read(self) -> Flow[SharedKeys | None]:
        data = yield StoreCall("get", (self._doc_key,))
        return None if data is None else SharedKeys.decode(data)
