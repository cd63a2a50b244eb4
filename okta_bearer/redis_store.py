"""A :class:`~okta_bearer._store.memory.Store` in Redis, shared by every process and machine.

Install with ``pip install 'okta-bearer[redis]'``.  It uses redis-py's asyncio
clients, for one server, a Redis Cluster or a Sentinel-managed primary::

    from okta_bearer.redis_store import RedisStore

    store = RedisStore("redis://127.0.0.1:6379/0", timeout=0.25)
    store = RedisStore("redis+cluster://10.0.0.1:6379,10.0.0.2:6379/")
    store = RedisStore("redis+sentinel://10.0.0.1:26379,10.0.0.2:26379/mymaster/0")
    store = RedisStore(client=my_redis_asyncio_client)   # anything else

``set_if_absent`` is one ``SET key value NX PX ttl`` command, atomic on the
server, so of any number of replicas racing on a DPoP ``jti`` exactly one wins.
``delete_if_equal`` (a lease released only by its holder) and ``increment``
(the fleet-wide introspection budget) are one Lua script each, atomic too.

Key layout: every key reads ``<prefix>:<kind>:...`` with one prefix
(``okta_bearer`` by default) and the kinds the library writes:

* ``<prefix>:dpop:<jkt>:<jti>``: DPoP replay marks;
* ``<prefix>:keys:<digest>`` and ``<prefix>:keys:<digest>:lease``: a shared key
  set and its refetch lease (the digest covers issuer, ``jwks_uri`` and
  algorithms);
* ``<prefix>:introspection:<namespace>:<sha256 of token>`` (and ``...:lease``):
  introspection answers (the namespace covers issuer and client id), and
  ``<prefix>:introspection:<namespace>:rate:<second>``: the call budget.

Every command and every Lua script names exactly one key, so on a Redis
Cluster each operation touches one slot and no hash tag is needed: a document
and its lease are read and written by separate commands, never together (a
future operation that must meet two keys in one command has to hash-tag them;
``tests/store/test_topologies.py`` checks that no script takes two keys).

Every call is bounded by ``timeout`` (connect, send and answer together; a
broken pooled connection is replaced once within it, and a cluster client may
follow ``MOVED``/``ASK`` or refresh its slot map within it), and any failure,
a Redis error, a refused connection, a failover in progress or the deadline,
is raised as :class:`~okta_bearer._store.memory.StoreUnavailable`; the caller
decides what an outage means (503 for DPoP, by default).  SECURITY.md, "Redis
failover", says what a failover does to replay marks and what
``replica_acks`` buys.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections.abc import Awaitable
from typing import Any, TypeVar

try:
    import redis.asyncio as aioredis
    from redis.asyncio.cluster import RedisCluster
    from redis.exceptions import RedisClusterException, RedisError
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        "okta_bearer.redis_store needs redis-py: pip install 'okta-bearer[redis]'"
    ) from exc

from ._errors import ConfigurationError
from ._options import checked_options
from ._store.memory import StoreUnavailable
from ._store.redis_topology import build_client, close_client, topology_of

__all__ = ["RedisStore"]

_T = TypeVar("_T")
_MAX_REPLICA_ACKS = 16

# Compare-and-delete: a lease is released only by the holder that wrote its value.
_DELETE_IF_EQUAL = """
if redis.call("GET", KEYS[1]) == ARGV[1] then
    return redis.call("DEL", KEYS[1])
end
return 0
"""

# A counter whose expiry is set once, by the increment that created it.
_INCREMENT = """
local count = redis.call("INCR", KEYS[1])
if count == 1 then
    redis.call("PEXPIRE", KEYS[1], ARGV[1])
end
return count
"""


@checked_options
class RedisStore:
    """A :class:`~okta_bearer._store.memory.Store` in Redis: one server, a Cluster or Sentinel.

    Args:
        url: ``redis://[user:password@]host:port/db``, ``rediss://...`` (TLS),
            ``unix:///path/to/socket``, ``redis+cluster://host:port,host:port/``
            (seed nodes of a Redis Cluster) or
            ``redis+sentinel://host:port,host:port/<service>[/<db>]`` (Sentinel
            addresses and the service name); ``rediss+cluster`` and
            ``rediss+sentinel`` speak TLS to the data nodes.  It is never
            logged or shown in errors, since it may hold a password.
        client: instead of ``url``, an already-built ``redis.asyncio.Redis``
            or ``redis.asyncio.RedisCluster`` (any other topology, any TLS or
            authentication redis-py supports).  It is the caller's to close:
            :meth:`aclose` leaves it open.
        timeout: seconds any one call may take in total before it raises
            :class:`StoreUnavailable`.
        prefix: put in front of every key, followed by ``:``, so several
            applications can share one database (a trailing ``:`` is ignored;
            ``""`` for none).
        max_connections: size of the connection pool (per node on a Cluster).
        replica_acks: when more than 0, a ``set_if_absent`` that stores its
            key (a DPoP replay mark, a lease) is followed on the same
            connection by ``WAIT replica_acks <timeout>``, and fails closed
            (:class:`StoreUnavailable`) unless that many replicas acknowledged
            it, so a failover cannot lose it.  One server or Sentinel only;
            see SECURITY.md, "Redis failover".

    Raises:
        ConfigurationError: a URL of another scheme or form, both or neither
            of ``url`` and ``client``, a client of another type, a
            non-positive timeout or pool size, a bad ``replica_acks``.
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        client: Any = None,
        timeout: float = 0.5,
        prefix: str = "okta_bearer",
        max_connections: int = 50,
        replica_acks: int = 0,
    ) -> None:
        if (url is None) == (client is None):
            raise ConfigurationError("url: give either url or client, not both or neither")
        if client is not None and not isinstance(client, (aioredis.Redis, RedisCluster)):
            raise ConfigurationError("client: must be a redis.asyncio.Redis or RedisCluster")
        topology = topology_of(url) if url is not None else None
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
            raise ConfigurationError("timeout: must be a number of seconds")
        if not 0 < timeout <= 60:
            raise ConfigurationError("timeout: must be more than 0 and at most 60 seconds")
        if not isinstance(prefix, str):
            raise ConfigurationError("prefix: must be a string")
        if isinstance(max_connections, bool) or not isinstance(max_connections, int):
            raise ConfigurationError("max_connections: must be a positive integer")
        if max_connections < 1:
            raise ConfigurationError("max_connections: must be a positive integer")
        if isinstance(replica_acks, bool) or not isinstance(replica_acks, int):
            raise ConfigurationError("replica_acks: must be an integer from 0 to 16")
        if not 0 <= replica_acks <= _MAX_REPLICA_ACKS:
            raise ConfigurationError("replica_acks: must be an integer from 0 to 16")
        if replica_acks and (topology == "cluster" or isinstance(client, RedisCluster)):
            # WAIT counts the writes of its own connection; redis-py's cluster
            # client routes a keyless WAIT to another connection, where it
            # would count nothing and prove nothing.
            raise ConfigurationError("replica_acks: is not supported on a Redis Cluster yet")
        self.timeout = float(timeout)
        self.replica_acks = replica_acks
        stripped = prefix.rstrip(":")
        self.prefix = f"{stripped}:" if stripped else ""
        self._owns_client = client is None
        if url is not None:
            client = build_client(url, timeout=self.timeout, max_connections=max_connections)
        self._client: Any = client
        self._delete_if_equal: Any = client.register_script(_DELETE_IF_EQUAL)
        self._increment: Any = client.register_script(_INCREMENT)

    async def _call(self, command: Awaitable[_T]) -> _T:
        try:
            # The outer deadline covers waiting for a pooled connection, a
            # cluster client's redirections and a Sentinel lookup too.
            return await asyncio.wait_for(command, self.timeout)
        # RedisClusterException (no reachable node, no slot map, too many
        # redirections) is not a RedisError: it must be caught by name.
        except (RedisError, RedisClusterException, OSError, asyncio.TimeoutError) as exc:
            raise StoreUnavailable(f"Redis did not answer: {type(exc).__name__}") from None

    @staticmethod
    def _milliseconds(ttl: float) -> int:
        if isinstance(ttl, bool) or not isinstance(ttl, (int, float)) or not ttl > 0:
            raise ValueError("ttl must be a positive number of seconds")
        return max(1, math.ceil(ttl * 1000))

    async def _set_nx_acknowledged(self, key: str, value: bytes, px: int) -> bool:
        # SET and WAIT in one pipeline share one connection, which is what
        # WAIT counts.  Half the deadline for WAIT leaves the other half for
        # the round trip, so an unacknowledged write is reported, not timed out.
        wait_ms = max(1, int(self.timeout * 500))
        async with self._client.pipeline(transaction=False) as pipe:
            pipe.set(key, value, nx=True, px=px)
            pipe.execute_command("WAIT", self.replica_acks, wait_ms)
            stored, acknowledged = await pipe.execute()
        if stored and int(acknowledged) < self.replica_acks:
            raise RedisError("too few replicas acknowledged the write")
        return bool(stored)

    async def set_if_absent(self, key: str, value: bytes, ttl: float) -> bool:
        """``SET prefix+key value NX PX ttl``: ``True`` when this call stored it.

        With ``replica_acks``, followed by ``WAIT``; too few acknowledgements
        raise :class:`StoreUnavailable` (the key stays written: a retry of the
        same DPoP proof is then refused, which is the safe side).
        """
        px = self._milliseconds(ttl)
        if self.replica_acks:
            return await self._call(self._set_nx_acknowledged(self.prefix + key, value, px))
        stored = await self._call(self._client.set(self.prefix + key, value, nx=True, px=px))
        return bool(stored)

    async def set(self, key: str, value: bytes, ttl: float) -> None:
        """``SET prefix+key value PX ttl``."""
        px = self._milliseconds(ttl)
        await self._call(self._client.set(self.prefix + key, value, px=px))

    async def get(self, key: str) -> bytes | None:
        """``GET prefix+key``."""
        value = await self._call(self._client.get(self.prefix + key))
        return None if value is None else bytes(value)

    async def delete(self, key: str) -> None:
        """``DEL prefix+key``."""
        await self._call(self._client.delete(self.prefix + key))

    async def delete_if_equal(self, key: str, value: bytes) -> bool:
        """``DEL prefix+key`` only while it holds ``value`` (one Lua script, atomic)."""
        deleted = await self._call(self._delete_if_equal(keys=[self.prefix + key], args=[value]))
        return bool(deleted)

    async def increment(self, key: str, ttl: float) -> int:
        """``INCR prefix+key``, expiring ``ttl`` after the first (one Lua script, atomic)."""
        px = self._milliseconds(ttl)
        count = await self._call(self._increment(keys=[self.prefix + key], args=[px]))
        return int(count)

    async def aclose(self) -> None:
        """Close the client and its connection pool (not a client handed in as ``client``)."""
        if not self._owns_client:
            return  # a client handed in is the caller's to close
        # Closing a dead connection is not worth an error.
        with contextlib.suppress(RedisError, OSError):
            await close_client(self._client)
