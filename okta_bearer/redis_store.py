"""A :class:`~okta_bearer._store.memory.Store` in Redis, shared by every process and machine.

Install with ``pip install 'okta-bearer[redis]'``.  It uses redis-py's asyncio
clients, for one server, a Redis Cluster or a Sentinel-managed primary::

    from okta_bearer.redis_store import RedisStore

    store = RedisStore("redis://127.0.0.1:6379/0", timeout=0.25)
    store = RedisStore("redis+cluster://10.0.0.1:6379,10.0.0.2:6379/")
    store = RedisStore("redis+sentinel://10.0.0.1:26379,10.0.0.2:26379/mymaster/0")
    store = RedisStore(client=my_redis_asyncio_client)   # anything else

``store.sync`` is its blocking face (:class:`~okta_bearer._store.memory.SyncStore`)
over the same keys, for Flask and Django under gunicorn: redis-py's blocking
client of the same topology, built on first use (so a pre-fork master hands
its workers no open connection).  A store built from ``client=`` needs
``sync_client=`` (a ``redis.Redis`` or ``redis.cluster.RedisCluster`` for the
same data) for that face.

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
from typing import Any, TypeVar

try:
    import redis
    import redis.asyncio as aioredis
    from redis.asyncio.cluster import RedisCluster
    from redis.cluster import RedisCluster as SyncRedisCluster
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        "okta_bearer.redis_store needs redis-py: pip install 'okta-bearer[redis]'"
    ) from exc

from ._errors import ConfigurationError
from ._options import checked_options
from ._store.memory import SyncStore
from ._store.redis_links import AsyncLink
from ._store.redis_ops import FAILURES, Commands, Op, unavailable, worth_a_fresh_map
from ._store.redis_sync import SyncRedisStore
from ._store.redis_topology import build_client, build_sync_client, close_client, topology_of

__all__ = ["RedisStore"]

_T = TypeVar("_T")
_MAX_REPLICA_ACKS = 16
# asyncio's deadline: the builtin TimeoutError (an OSError) from Python 3.11 on.
_ASYNC_FAILURES: tuple[type[BaseException], ...] = (*FAILURES, asyncio.TimeoutError)


def _decodes(client: Any) -> bool:
    """Whether a redis-py client turns replies into str (it would mangle stored bytes)."""
    return bool(getattr(client.get_encoder(), "decode_responses", False))


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
            authentication redis-py supports), without ``decode_responses``.
            It is the caller's to close: :meth:`aclose` leaves it open.
        sync_client: with ``client``, the blocking client for :attr:`sync`
            (a ``redis.Redis`` or ``redis.cluster.RedisCluster`` on the same
            data, a cluster client beside a cluster client), also the
            caller's to close; without it, :attr:`sync` raises
            ConfigurationError.  A ``url`` builds its own.
        timeout: seconds any one call may take in total before it raises
            :class:`StoreUnavailable` (on :attr:`sync`, each network step of
            a call; see ``okta_bearer._store.redis_sync``).
        prefix: put in front of every key, followed by ``:``, so several
            applications can share one database (a trailing ``:`` is ignored;
            ``""`` for none).
        max_connections: size of the connection pool (per node on a Cluster;
            one pool per face).
        replica_acks: when more than 0, a ``set_if_absent`` that stores its
            key (a DPoP replay mark, a lease) is followed on the same
            connection by ``WAIT replica_acks <timeout/2>``, and fails closed
            (:class:`StoreUnavailable`) unless that many replicas acknowledged
            it, so a failover cannot lose it.  On a Cluster both go pipelined
            on one connection to the primary that owns the key's slot, with
            no redirection followed in between (a ``MOVED`` fails the call
            closed, after one retry on a fresh slot map).  See SECURITY.md,
            "Redis failover".

    Raises:
        ConfigurationError: a URL of another scheme or form, both or neither
            of ``url`` and ``client``, a client of another type or one that
            decodes responses, a ``sync_client`` without ``client`` or of
            another type or topology, a non-positive timeout or pool size, a
            bad ``replica_acks``.
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        client: Any = None,
        sync_client: Any = None,
        timeout: float = 0.5,
        prefix: str = "okta_bearer",
        max_connections: int = 50,
        replica_acks: int = 0,
    ) -> None:
        if (url is None) == (client is None):
            raise ConfigurationError("url: give either url or client, not both or neither")
        if client is not None and not isinstance(client, (aioredis.Redis, RedisCluster)):
            raise ConfigurationError("client: must be a redis.asyncio.Redis or RedisCluster")
        if client is not None and _decodes(client):
            raise ConfigurationError("client: must not decode responses (decode_responses=False)")
        _check_sync_client(sync_client, client)
        if url is not None:
            topology_of(url)  # a URL of another scheme is refused before any other option
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
        self.timeout = float(timeout)
        self.replica_acks = replica_acks
        stripped = prefix.rstrip(":")
        self.prefix = f"{stripped}:" if stripped else ""
        self._commands = Commands(self.prefix, replica_acks, self.timeout)
        self._owns_client = client is None
        self._sync: SyncRedisStore | None = None
        if url is not None:
            client = build_client(url, timeout=self.timeout, max_connections=max_connections)
            self._sync = SyncRedisStore(
                self._commands,
                lambda: build_sync_client(
                    url, timeout=self.timeout, max_connections=max_connections
                ),
                owns_client=True,
            )
        elif sync_client is not None:
            self._sync = SyncRedisStore(self._commands, lambda: sync_client, owns_client=False)
        self._client: Any = client
        self._link = AsyncLink(client)

    @property
    def sync(self) -> SyncStore:
        """The blocking face over the same keys (:class:`~okta_bearer._store.memory.SyncStore`).

        Raises:
            ConfigurationError: the store was built from ``client`` without
                ``sync_client``.
        """
        if self._sync is None:
            raise ConfigurationError(
                "sync_client: RedisStore(client=...) has a blocking face only with "
                "sync_client= (a redis.Redis or redis.cluster.RedisCluster on the same data)"
            )
        return self._sync

    async def _run(self, op: Op[_T]) -> _T:
        try:
            # The outer deadline covers waiting for a pooled connection, a
            # cluster client's redirections, a Sentinel lookup, and the one
            # retry after a fresh slot map.
            return await asyncio.wait_for(self._attempts(op), self.timeout)
        except _ASYNC_FAILURES as exc:
            raise unavailable(exc) from None

    async def _attempts(self, op: Op[_T]) -> _T:
        link = self._link
        try:
            return op.read(await op.send(link))
        except FAILURES as exc:
            if not (link.cluster and worth_a_fresh_map(op, exc) and await link.refresh()):
                raise
        return op.read(await op.send(link))

    async def set_if_absent(self, key: str, value: bytes, ttl: float) -> bool:
        """``SET prefix+key value NX PX ttl``: ``True`` when this call stored it.

        With ``replica_acks``, followed by ``WAIT`` on the same connection;
        too few acknowledgements raise :class:`StoreUnavailable` (the key
        stays written: a retry of the same DPoP proof is then refused, which
        is the safe side).
        """
        return await self._run(self._commands.set_if_absent(key, value, ttl))

    async def set(self, key: str, value: bytes, ttl: float) -> None:
        """``SET prefix+key value PX ttl``."""
        await self._run(self._commands.set(key, value, ttl))

    async def get(self, key: str) -> bytes | None:
        """``GET prefix+key``."""
        return await self._run(self._commands.get(key))

    async def delete(self, key: str) -> None:
        """``DEL prefix+key``."""
        await self._run(self._commands.delete(key))

    async def delete_if_equal(self, key: str, value: bytes) -> bool:
        """``DEL prefix+key`` only while it holds ``value`` (one Lua script, atomic)."""
        return await self._run(self._commands.delete_if_equal(key, value))

    async def increment(self, key: str, ttl: float) -> int:
        """``INCR prefix+key``, expiring ``ttl`` after the first (one Lua script, atomic)."""
        return await self._run(self._commands.increment(key, ttl))

    async def aclose(self) -> None:
        """Close the clients and their pools, of both faces (not a client handed in)."""
        if self._sync is not None:
            self._sync.close()
        if not self._owns_client:
            return  # a client handed in is the caller's to close
        # Closing a dead connection is not worth an error.
        with contextlib.suppress(*FAILURES):
            await close_client(self._client)


def _check_sync_client(sync_client: Any, client: Any) -> None:
    """ConfigurationError naming ``sync_client`` unless it fits beside ``client``."""
    if sync_client is None:
        return
    if client is None:
        raise ConfigurationError("sync_client: give it with client= (a url builds its own)")
    if not isinstance(sync_client, (redis.Redis, SyncRedisCluster)):
        raise ConfigurationError("sync_client: must be a redis.Redis or redis.cluster.RedisCluster")
    if isinstance(sync_client, SyncRedisCluster) != isinstance(client, RedisCluster):
        raise ConfigurationError(
            "sync_client: must be of the same topology as client (a cluster client "
            "beside a cluster client)"
        )
    if _decodes(sync_client):
        raise ConfigurationError("sync_client: must not decode responses (decode_responses=False)")
