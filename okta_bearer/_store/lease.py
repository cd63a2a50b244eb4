"""Fleet-wide single-flight: a document shared through a Store, fetched under a lease.

With a shared :class:`~okta_bearer._store.memory.Store` (Redis), every worker of a
fleet asks the store first; on a miss, one worker takes a short lease
(``set_if_absent`` with a TTL and a random value of its own) and fetches, the
others poll the store until the document appears.  Only the holder releases
its lease (``delete_if_equal`` with its value): a holder slower than its lease
cannot release the lease another worker took after it expired.  If the holder
fails or dies, its lease goes away (released, or expired) and the waiters
compete for it again: one fetch at a time per key, never a stampede per request.
The store is a cache, not a dependency: when it cannot be reached the caller
fetches directly (and the answer is still correct).

Whoever wins the lease reads the store once more before fetching, every time:
a previous holder may have published its document and released its lease
between this worker's read and its lease (even on its very first attempt), and
that document must not be fetched a second time.  So a document is fetched
once per fleet, at the cost of one more read on the cold path only.

:func:`shared_fetch` is a *flow* (see ``okta_bearer._flow``): written once, run
by the async driver (ASGI) and the sync one (WSGI threads) alike.  The wait has
no deadline of its own: the caller bounds the whole flow (its budget), and the
lease lives as long as that budget.

Used for introspection answers; :func:`release` (a flow) releases any lease.
Key sets have their own policy in ``_keys/fleet.py`` (kid-aware adoption; when
the lease holder fails, waiters fail that refresh and keep their keys).
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable

from .._flow import Flow, Pause, StoreCall
from .memory import StoreUnavailable

__all__ = ["Fetched", "release", "shared_fetch"]

logger = logging.getLogger("okta_bearer")

#: What a fetch returns: the document's bytes and how long (seconds) it may be shared.
#: A TTL of 0 or less means "do not share" (for example an already expired answer).
Fetched = tuple[bytes, float]

_POLL = 0.02


def _any(_document: bytes) -> bool:
    return True


def _get(key: str, usable: Callable[[bytes], bool]) -> Flow[bytes | None]:
    try:
        document = yield StoreCall("get", (key,))
    except StoreUnavailable:
        logger.warning("okta_bearer: shared store unavailable; fetching without it")
        return None
    return document if document is not None and usable(document) else None


def release(lease_key: str, holder: bytes) -> Flow[None]:
    """A flow releasing a lease this process holds (never another's); else it expires."""
    with contextlib.suppress(StoreUnavailable):
        yield StoreCall("delete_if_equal", (lease_key, holder))


def shared_fetch(
    key: str,
    fetch: Callable[[], Flow[Fetched]],
    *,
    lease_ttl: float,
    poll: float = _POLL,
    usable: Callable[[bytes], bool] = _any,
) -> Flow[tuple[bytes, bool]]:
    """A flow returning the document under ``key``, fetched at most once at a time per fleet.

    Run it with ``okta_bearer._flow.run`` (async store) or ``run_sync``
    (the store's blocking face).

    Args:
        key: where the document lives; the lease is ``key + ":lease"``.
        fetch: a flow that makes the real request; returns ``(document, ttl)``.
            Its exceptions propagate (nothing is stored, the lease is released).
        lease_ttl: the caller's whole budget; a lease outlives its holder by
            at most this.
        poll: seconds between store reads while another worker fetches.
        usable: whether a stored document may still be used (for example its
            age); an unusable one counts as absent.

    Returns:
        ``(document, fetched)``: ``fetched`` is true when this call made the request.
    """
    cached = yield from _get(key, usable)
    if cached is not None:
        return cached, False
    lease_key = f"{key}:lease"
    holder = os.urandom(16)
    while True:
        try:
            leased = yield StoreCall("set_if_absent", (lease_key, holder, lease_ttl))
        except StoreUnavailable:
            return (yield from _fetch_and_share(key, None, holder, fetch)), True
        if leased:
            # The last holder may have published its document and released the
            # lease since our read (our first read included): look once more.
            cached = yield from _get(key, usable)
            if cached is not None:
                yield from release(lease_key, holder)
                return cached, False
            return (yield from _fetch_and_share(key, lease_key, holder, fetch)), True
        # Another worker fetches: wait for its document, or for its lease to go.
        while True:
            yield Pause(poll)
            cached = yield from _get(key, usable)
            if cached is not None:
                return cached, False
            try:
                lease_gone = (yield StoreCall("get", (lease_key,))) is None
            except StoreUnavailable:
                lease_gone = True
            if lease_gone:
                break  # the holder failed (or died): compete for the lease again


def _fetch_and_share(
    key: str,
    lease_key: str | None,
    holder: bytes,
    fetch: Callable[[], Flow[Fetched]],
) -> Flow[bytes]:
    try:
        document, ttl = yield from fetch()
        if ttl > 0:
            try:
                yield StoreCall("set", (key, document, ttl))
            except StoreUnavailable:
                logger.warning("okta_bearer: shared store unavailable; answer not shared")
        return document
    finally:
        if lease_key is not None:
            yield from release(lease_key, holder)
