"""Fleet-wide single-flight: a document shared through a Store, fetched under a lease.

With a shared :class:`~okta_bearer._store.memory.Store` (Redis), every worker of a
fleet asks the store first; on a miss, one worker takes a short lease
(``set_if_absent`` with a TTL) and fetches, the others poll the store until
the document appears.  If the lease holder dies, its lease expires and each
waiter fetches for itself: at most one fetch per worker, never a stampede
per request.  The store is a cache, not a dependency: when it cannot be
reached the caller fetches directly (and the answer is still correct).

Used for introspection answers.  Key sets have their own policy in
``_keys/fleet.py`` (kid-aware adoption; when the lease holder fails, waiters fail
that refresh and keep their keys): a request waiting on an introspection
answer has nothing to fall back on, so here a waiter fetches for itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable

from .memory import Store, StoreUnavailable

__all__ = ["Fetched", "shared_fetch"]

logger = logging.getLogger("okta_bearer")

#: What a fetch returns: the document's bytes and how long (seconds) it may be shared.
#: A TTL of 0 or less means "do not share" (for example an already expired answer).
Fetched = tuple[bytes, float]

_POLL = 0.02


async def _get(store: Store, key: str) -> bytes | None:
    try:
        return await store.get(key)
    except StoreUnavailable:
        logger.warning("okta_bearer: shared store unavailable; fetching without it")
        return None


async def shared_fetch(
    store: Store,
    key: str,
    fetch: Callable[[], Awaitable[Fetched]],
    *,
    lease_ttl: float,
    poll: float = _POLL,
) -> tuple[bytes, bool]:
    """Return the document under ``key``, fetching it at most once across the fleet.

    Args:
        store: the shared store.
        key: where the document lives; the lease is ``key + ":lease"``.
        fetch: makes the real request; returns ``(document, ttl)``.  Its
            exceptions propagate (nothing is stored, the lease is released).
        lease_ttl: how long a lease holder may take (its fetch timeout plus a
            margin); waiters stop waiting after this and fetch themselves.
        poll: seconds between store reads while another worker fetches.

    Returns:
        ``(document, fetched)``: ``fetched`` is true when this call made the request.
    """
    cached = await _get(store, key)
    if cached is not None:
        return cached, False
    lease_key = f"{key}:lease"
    deadline = time.monotonic() + lease_ttl
    while True:
        try:
            holder = await store.set_if_absent(lease_key, b"1", lease_ttl)
        except StoreUnavailable:
            holder = True  # no coordination possible: fetch ourselves
        if holder:
            return await _fetch_and_share(store, key, lease_key, fetch), True
        # Another worker fetches: wait for its document, or for its lease to lapse.
        while time.monotonic() < deadline:
            await asyncio.sleep(poll)
            cached = await _get(store, key)
            if cached is not None:
                return cached, False
            try:
                lease_gone = await store.get(lease_key) is None
            except StoreUnavailable:
                lease_gone = True
            if lease_gone:
                break  # the holder failed (or died): compete for the lease again
        else:
            # The holder is too slow or gone without releasing: fetch, once, ourselves.
            return await _fetch_and_share(store, key, None, fetch), True


async def _fetch_and_share(
    store: Store, key: str, lease_key: str | None, fetch: Callable[[], Awaitable[Fetched]]
) -> bytes:
    try:
        document, ttl = await fetch()
        if ttl > 0:
            try:
                await store.set(key, document, ttl)
            except StoreUnavailable:
                logger.warning("okta_bearer: shared store unavailable; answer not shared")
        return document
    finally:
        if lease_key is not None:
            with contextlib.suppress(StoreUnavailable):  # it expires on its own
                await store.delete(lease_key)
