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

The wait has no deadline of its own: the caller bounds the whole call (its
budget, with ``asyncio.timeout``), and the lease lives as long as that budget.

Used for introspection answers.  Key sets have their own policy in
``_keys/fleet.py`` (kid-aware adoption; when the lease holder fails, waiters fail
that refresh and keep their keys).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Awaitable, Callable

from .memory import Store, StoreUnavailable

__all__ = ["Fetched", "release", "shared_fetch"]

logger = logging.getLogger("okta_bearer")

#: What a fetch returns: the document's bytes and how long (seconds) it may be shared.
#: A TTL of 0 or less means "do not share" (for example an already expired answer).
Fetched = tuple[bytes, float]

_POLL = 0.02


def _any(_document: bytes) -> bool:
    return True


async def _get(store: Store, key: str, usable: Callable[[bytes], bool]) -> bytes | None:
    try:
        document = await store.get(key)
    except StoreUnavailable:
        logger.warning("okta_bearer: shared store unavailable; fetching without it")
        return None
    return document if document is not None and usable(document) else None


async def release(store: Store, lease_key: str, holder: bytes) -> None:
    """Release a lease this process holds (never another's); it expires on its own otherwise."""
    with contextlib.suppress(StoreUnavailable):
        await store.delete_if_equal(lease_key, holder)


async def shared_fetch(
    store: Store,
    key: str,
    fetch: Callable[[], Awaitable[Fetched]],
    *,
    lease_ttl: float,
    poll: float = _POLL,
    usable: Callable[[bytes], bool] = _any,
) -> tuple[bytes, bool]:
    """Return the document under ``key``, fetching it at most once at a time across the fleet.

    Args:
        store: the shared store.
        key: where the document lives; the lease is ``key + ":lease"``.
        fetch: makes the real request; returns ``(document, ttl)``.  Its
            exceptions propagate (nothing is stored, the lease is released).
        lease_ttl: the caller's whole budget; a lease outlives its holder by
            at most this.
        poll: seconds between store reads while another worker fetches.
        usable: whether a stored document may still be used (for example its
            age); an unusable one counts as absent.

    Returns:
        ``(document, fetched)``: ``fetched`` is true when this call made the request.
    """
    cached = await _get(store, key, usable)
    if cached is not None:
        return cached, False
    lease_key = f"{key}:lease"
    holder = os.urandom(16)
    retry = False
    while True:
        try:
            leased = await store.set_if_absent(lease_key, holder, lease_ttl)
        except StoreUnavailable:
            return await _fetch_and_share(store, key, None, holder, fetch), True
        if leased:
            if retry:
                # The last holder may have published its document and released the
                # lease between our two reads: look once more before fetching again.
                cached = await _get(store, key, usable)
                if cached is not None:
                    await release(store, lease_key, holder)
                    return cached, False
            return await _fetch_and_share(store, key, lease_key, holder, fetch), True
        retry = True
        # Another worker fetches: wait for its document, or for its lease to go.
        while True:
            await asyncio.sleep(poll)
            cached = await _get(store, key, usable)
            if cached is not None:
                return cached, False
            try:
                lease_gone = await store.get(lease_key) is None
            except StoreUnavailable:
                lease_gone = True
            if lease_gone:
                break  # the holder failed (or died): compete for the lease again


async def _fetch_and_share(
    store: Store,
    key: str,
    lease_key: str | None,
    holder: bytes,
    fetch: Callable[[], Awaitable[Fetched]],
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
            await release(store, lease_key, holder)
