"""Shared state: a small async key-value interface and its in-memory backend.

Everything that must hold across requests *and across processes* goes
through a :class:`Store`: DPoP ``jti`` replay marks, cached introspection
answers, shared key sets, refetch leases and the introspection budget.  The
interface is deliberately tiny so that any backend with an atomic "set if
absent, with expiry" (Redis ``SET NX PX``, memcached ``add``), an atomic
counter and an atomic compare-and-delete can implement it.

Keys the library writes read ``<kind>:...`` (``dpop:``, ``keys:``,
``introspection:``); a backend may put one prefix of its own in front.

* :class:`MemoryStore` (the default) is bounded and per process: right for
  one process, wrong for replay protection across replicas.
* ``okta_bearer.redis_store.RedisStore`` shares state across processes.

Keys are ``str`` and values ``bytes``; a TTL is in seconds and always
required, so nothing a request writes lives forever.  A backend that cannot
answer raises :class:`StoreUnavailable` (never a backend-specific error).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol, runtime_checkable

from cachetools import TLRUCache

from .._options import checked_options

__all__ = ["MemoryStore", "Store", "StoreUnavailable"]


class StoreUnavailable(Exception):
    """The store could not be reached or did not answer in time."""


@runtime_checkable
class Store(Protocol):
    """An async key-value store with per-entry expiry.

    Implementations must make :meth:`set_if_absent` atomic: of any number of
    concurrent callers (in any process sharing the store) with the same key,
    exactly one gets ``True``.
    """

    async def set_if_absent(self, key: str, value: bytes, ttl: float) -> bool:
        """Store ``value`` under ``key`` for ``ttl`` seconds unless the key exists.

        Returns ``True`` when this call stored it, ``False`` when the key was
        already there.  Raises :class:`StoreUnavailable`.
        """
        ...

    async def set(self, key: str, value: bytes, ttl: float) -> None:
        """Store ``value`` under ``key`` for ``ttl`` seconds, replacing any value."""
        ...

    async def get(self, key: str) -> bytes | None:
        """The value under ``key``, or ``None`` when absent or expired."""
        ...

    async def delete(self, key: str) -> None:
        """Remove ``key`` (no error when absent)."""
        ...

    async def delete_if_equal(self, key: str, value: bytes) -> bool:
        """Remove ``key`` only while it holds ``value``, atomically.

        Returns ``True`` when this call removed it.  A lease is released this
        way, so a holder whose lease expired and was taken by another process
        cannot release the other's lease.
        """
        ...

    async def increment(self, key: str, ttl: float) -> int:
        """Add one to the counter under ``key`` and return the new count, atomically.

        A new counter starts at 1 and expires ``ttl`` seconds after its first
        increment (later increments do not extend it).
        """
        ...

    async def aclose(self) -> None:
        """Release connections; the store is not used afterwards."""
        ...


@checked_options
class MemoryStore:
    """A bounded in-process :class:`Store` (least recently used entries go first).

    Args:
        max_entries: how many keys are kept; when full, the least recently used
            entry is dropped even if it has not expired.  For replay marks that
            means a very old proof could be accepted again once evicted, so
            size it above (requests per second x replay window).
        clock: seconds (monotonic by default); injectable for tests.
    """

    def __init__(
        self, max_entries: int = 100_000, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if isinstance(max_entries, bool) or not isinstance(max_entries, int) or max_entries < 1:
            raise ValueError("max_entries must be a positive integer")
        self._clock = clock
        # Each value carries its own deadline; TLRUCache drops it once passed.
        self._data: TLRUCache[str, tuple[bytes, float]] = TLRUCache(
            maxsize=max_entries, ttu=lambda _key, value, _now: value[1], timer=clock
        )

    def __len__(self) -> int:
        return len(self._data)

    async def set_if_absent(self, key: str, value: bytes, ttl: float) -> bool:
        # One event loop, no await between the check and the write: atomic.
        if self._data.get(key) is not None:
            return False
        self._data[key] = (value, self._clock() + ttl)
        return True

    async def set(self, key: str, value: bytes, ttl: float) -> None:
        self._data[key] = (value, self._clock() + ttl)

    async def get(self, key: str) -> bytes | None:
        entry = self._data.get(key)
        return None if entry is None else entry[0]

    async def delete(self, key: str) -> None:
        self._data.pop(key, None)

    async def delete_if_equal(self, key: str, value: bytes) -> bool:
        entry = self._data.get(key)
        if entry is None or entry[0] != value:
            return False
        del self._data[key]
        return True

    async def increment(self, key: str, ttl: float) -> int:
        entry = self._data.get(key)
        if entry is None:
            count, deadline = 1, self._clock() + ttl
        else:
            count, deadline = int(entry[0]) + 1, entry[1]
        self._data[key] = (str(count).encode(), deadline)
        return count

    async def aclose(self) -> None:
        self._data.clear()
