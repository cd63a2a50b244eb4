"""``RedisStore.sync``: the blocking face of the Redis store, for WSGI workers' threads.

One job: drive the store's operations (``redis_ops``: the same keys, the same
Lua scripts, the same reading of every reply) through a blocking redis-py
client, for Flask and Django under gunicorn's sync and ``gthread`` workers.
It is a :class:`~okta_bearer._store.memory.SyncStore`.

* **Same data.**  The keys, prefix, TTLs and ``replica_acks`` of the async
  face, so an ASGI and a WSGI fleet share replay marks, key sets,
  introspection answers, leases and the introspection budget.
* **Same errors.**  Every redis-py error (cluster errors too) is
  :class:`~okta_bearer._store.memory.StoreUnavailable`; a reply Redis would
  not give is too.
* **Threads.**  Safe from any number of threads: redis-py's blocking pools
  hand each call its own connection; the client itself is built once, under
  a lock, on the first call.
* **Fork.**  Nothing connects before the first call, so a ``RedisStore``
  built in a pre-fork master (gunicorn ``--preload``) hands its workers no
  open socket.  If the master did use the face before forking, redis-py's
  pools notice the new process id in each worker and open new connections
  there, leaving the master's sockets alone (``tests/store/test_sync_face.py``
  forks real children to check it).
* **Time.**  A blocking call cannot be cancelled from outside, so there is no
  one deadline around it as on the async face: every network step (waiting
  for a pooled connection, connecting, each reply) is bounded by
  ``timeout``, and redis-py's one retry on a broken connection (and the
  face's one retry after a fresh cluster slot map) can add a step or two.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from .redis_links import SyncLink
from .redis_ops import FAILURES, Commands, Op, unavailable, worth_a_fresh_map
from .redis_topology import close_sync_client

__all__ = ["SyncRedisStore"]

_T = TypeVar("_T")


class SyncRedisStore:
    """The blocking face of a ``RedisStore`` (a :class:`~okta_bearer.SyncStore`).

    Built by ``RedisStore``; use its ``sync`` attribute.
    """

    def __init__(self, commands: Commands, build: Callable[[], Any], *, owns_client: bool) -> None:
        self._commands = commands
        self._build = build
        self._owns_client = owns_client
        self._link: SyncLink | None = None
        self._lock = threading.Lock()

    def _connected(self) -> SyncLink:
        link = self._link
        if link is None:
            with self._lock:
                link = self._link
                if link is None:
                    link = self._link = SyncLink(self._connect())
        return link

    def _connect(self) -> Any:
        try:
            return self._build()
        # A blocking RedisCluster reads the slot map (and the command table)
        # as it is built, and a node answering garbage there was seen to make
        # redis-py raise AttributeError: any failure is an outage of this
        # call, and the next call builds again.
        except Exception as exc:
            raise unavailable(exc) from None

    def _run(self, op: Op[_T]) -> _T:
        try:
            link = self._connected()
            try:
                return op.read(op.send(link))
            except FAILURES as exc:
                if not (link.cluster and worth_a_fresh_map(op, exc) and link.refresh()):
                    raise
            return op.read(op.send(link))
        except FAILURES as exc:
            raise unavailable(exc) from None

    def set_if_absent(self, key: str, value: bytes, ttl: float) -> bool:
        """``SET prefix+key value NX PX ttl`` (then ``WAIT`` with ``replica_acks``)."""
        return self._run(self._commands.set_if_absent(key, value, ttl))

    def set(self, key: str, value: bytes, ttl: float) -> None:
        """``SET prefix+key value PX ttl``."""
        self._run(self._commands.set(key, value, ttl))

    def get(self, key: str) -> bytes | None:
        """``GET prefix+key``."""
        return self._run(self._commands.get(key))

    def delete(self, key: str) -> None:
        """``DEL prefix+key``."""
        self._run(self._commands.delete(key))

    def delete_if_equal(self, key: str, value: bytes) -> bool:
        """``DEL prefix+key`` only while it holds ``value`` (one Lua script, atomic)."""
        return self._run(self._commands.delete_if_equal(key, value))

    def increment(self, key: str, ttl: float) -> int:
        """``INCR prefix+key``, expiring ``ttl`` after the first (one Lua script, atomic)."""
        return self._run(self._commands.increment(key, ttl))

    def close(self) -> None:
        """Close the blocking client and its pool (not a client handed in as ``sync_client``)."""
        with self._lock:
            link, self._link = self._link, None
        if link is None or not self._owns_client:
            return
        with contextlib.suppress(*FAILURES):  # closing a dead connection is not worth an error
            close_sync_client(link.client)
