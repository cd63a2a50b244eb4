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

import inspect
import threading
import time
from collections.abc import Callable
from typing import Protocol, runtime_checkable

from cachetools import TLRUCache

from .._errors import ConfigurationError
from .._options import checked_options

__all__ = ["MemoryStore", "Store", "StoreUnavailable", "SyncStore", "sync_face"]


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


@runtime_checkable
class SyncStore(Protocol):
    """The blocking face of a :class:`Store`, for WSGI servers' threads (Flask, Django).

    The same operations with the same atomicity, as plain methods, safe to
    call from many threads at once.  A store of this library offers one as
    its ``sync`` attribute, over the same data (``MemoryStore().sync`` shares
    the entries, ``RedisStore(url).sync`` the Redis keys), so one configured
    store serves an async and a sync driver alike.
    """

    def set_if_absent(self, key: str, value: bytes, ttl: float) -> bool:
        """Atomic set-if-absent with expiry (see :meth:`Store.set_if_absent`)."""
        ...

    def set(self, key: str, value: bytes, ttl: float) -> None:
        """Store ``value`` under ``key`` for ``ttl`` seconds, replacing any value."""
        ...

    def get(self, key: str) -> bytes | None:
        """The value under ``key``, or ``None`` when absent or expired."""
        ...

    def delete(self, key: str) -> None:
        """Remove ``key`` (no error when absent)."""
        ...

    def delete_if_equal(self, key: str, value: bytes) -> bool:
        """Atomic compare-and-delete (see :meth:`Store.delete_if_equal`)."""
        ...

    def increment(self, key: str, ttl: float) -> int:
        """Atomic counter with expiry (see :meth:`Store.increment`)."""
        ...

    def close(self) -> None:
        """Release connections; the store is not used afterwards."""
        ...


_SYNC_METHODS = ("set_if_absent", "set", "get", "delete", "delete_if_equal", "increment", "close")


def sync_face(store: object, option: str = "store") -> SyncStore:
    """The blocking face of ``store``: its ``sync`` attribute, or itself if it is one.

    Raises:
        ConfigurationError: the store offers no blocking face (naming ``option``).
    """
    face = getattr(store, "sync", store)
    # The protocol check sees method names only: an async store answering
    # with coroutines (truthy) would accept every replay and win every lease.
    if not isinstance(face, SyncStore) or any(
        inspect.iscoroutinefunction(getattr(face, name, None)) for name in _SYNC_METHODS
    ):
        raise ConfigurationError(
            f"{option} has no blocking face for a sync (WSGI) driver: give it a "
            "'sync' attribute implementing okta_bearer.SyncStore, or use MemoryStore "
            "or okta_bearer.redis_store.RedisStore"
        )
    return face


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

        # One lock for both faces: threads (the sync face) and the event loop
        # (the async one) may share the entries; nothing blocks while held.
        self._lock = threading.Lock()
        #: The blocking face over the same entries (:class:`SyncStore`).
        self.sync: SyncStore = _SyncMemoryStore(self)

    def __len__(self) -> int:
        return len(self._data)

    async def set_if_absent(self, key: str, value: bytes, ttl: float) -> bool:
        return self.sync.set_if_absent(key, value, ttl)

    async def set(self, key: str, value: bytes, ttl: float) -> None:
        self.sync.set(key, value, ttl)

    async def get(self, key: str) -> bytes | None:
        return self.sync.get(key)

    async def delete(self, key: str) -> None:
        self.sync.delete(key)

    async def delete_if_equal(self, key: str, value: bytes) -> bool:
        return self.sync.delete_if_equal(key, value)

    async def increment(self, key: str, ttl: float) -> int:
        return self.sync.increment(key, ttl)

    async def aclose(self) -> None:
        self.sync.close()


class _SyncMemoryStore:
    """:class:`MemoryStore`'s blocking face: the same entries, under its lock."""

    __slots__ = ("_store",)

    def __init__(self, store: MemoryStore) -> None:
        self._store = store

    def set_if_absent(self, key: str, value: bytes, ttl: float) -> bool:
        store = self._store
        with store._lock:
            if store._data.get(key) is not None:
                return False
            store._data[key] = (value, store._clock() + ttl)
            return True

    def set(self, key: str, value: bytes, ttl: float) -> None:
        store = self._store
        with store._lock:
            store._data[key] = (value, store._clock() + ttl)

    def get(self, key: str) -> bytes | None:
        with self._store._lock:
            entry = self._store._data.get(key)
        return None if entry is None else entry[0]

    def delete(self, key: str) -> None:
        with self._store._lock:
            self._store._data.pop(key, None)

    def delete_if_equal(self, key: str, value: bytes) -> bool:
        data = self._store._data
        with self._store._lock:
            entry = data.get(key)
            if entry is None or entry[0] != value:
                return False
            del data[key]
            return True

    def increment(self, key: str, ttl: float) -> int:
        store = self._store
        with store._lock:
            entry = store._data.get(key)
            if entry is None:
                count, deadline = 1, store._clock() + ttl
            else:
                count, deadline = int(entry[0]) + 1, entry[1]
            store._data[key] = (str(count).encode(), deadline)
            return count

    def close(self) -> None:
        with self._store._lock:
            self._store._data.clear()
