"""redis-py clients for the Redis topologies that RedisStore accepts.

One job: turn a URL into a redis-py client, asyncio (:func:`build_client`,
the store's async face) or blocking (:func:`build_sync_client`, its ``sync``
face), with every problem raised as
:class:`~okta_bearer._errors.ConfigurationError` naming ``url``.  Both come
from one set of builders over the two redis-py families, so the faces get
the same topology, timeouts, pool size and retry.  Nothing here routes,
retries or elects anything: that is redis-py's cluster client
(``RedisCluster``) and its Sentinel client (``Sentinel``), used as they are.

* ``redis://``, ``rediss://``, ``unix://``: one server (redis-py's own URL form).
* ``redis+cluster://[user:password@]host:port[,host:port...][/]`` (``rediss+cluster``
  for TLS): a Redis Cluster, from seed nodes; the client reads the slot map
  from any of them and follows ``MOVED``/``ASK`` itself.
* ``redis+sentinel://[user:password@]host:port[,host:port...]/<service>[/<db>]``
  (``rediss+sentinel`` for TLS to the data nodes): the primary Sentinel names
  for ``<service>``, asked again on every new connection, so a promoted
  replica is found without a restart.  The user and password are the data
  nodes'; Sentinels that need a password of their own take a built client.

The URL must not carry a query string: an option there would be ignored or,
worse, half-applied, so it is refused by name.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import redis
import redis.asyncio as aioredis
import redis.asyncio.cluster as aiocluster
import redis.asyncio.retry as aioretry
import redis.asyncio.sentinel as aiosentinel
import redis.cluster
import redis.retry
import redis.sentinel
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError

from .._errors import ConfigurationError

__all__ = [
    "ASYNC",
    "SYNC",
    "Family",
    "build_client",
    "build_sync_client",
    "close_client",
    "close_sync_client",
    "topology_of",
]

SINGLE_SCHEMES = ("redis", "rediss", "unix")
CLUSTER_SCHEMES = ("redis+cluster", "rediss+cluster")
SENTINEL_SCHEMES = ("redis+sentinel", "rediss+sentinel")
_DEFAULT_PORT = {"cluster": 6379, "sentinel": 26379}


@dataclass(frozen=True)
class Family:
    """One redis-py client family: its classes, which take the same arguments."""

    redis: Any
    cluster: Any
    cluster_node: Any
    sentinel: Any
    blocking_pool: Any
    retry: Any


#: redis-py's asyncio clients (the store's async face).
ASYNC = Family(
    aioredis.Redis,
    aiocluster.RedisCluster,
    aiocluster.ClusterNode,
    aiosentinel.Sentinel,
    aioredis.BlockingConnectionPool,
    aioretry.Retry,
)
#: redis-py's blocking clients (the store's ``sync`` face).
SYNC = Family(
    redis.Redis,
    redis.cluster.RedisCluster,
    redis.cluster.ClusterNode,
    redis.sentinel.Sentinel,
    redis.BlockingConnectionPool,
    redis.retry.Retry,
)


@dataclass(frozen=True)
class _Parsed:
    """The parts of a cluster or Sentinel URL."""

    nodes: list[tuple[str, int]]
    username: str | None
    password: str | None
    path: list[str]
    tls: bool


def topology_of(url: object) -> str:
    """``"single"``, ``"cluster"`` or ``"sentinel"`` for a URL, or ConfigurationError."""
    scheme = urlsplit(url).scheme.lower() if isinstance(url, str) else ""
    if scheme in SINGLE_SCHEMES:
        return "single"
    if scheme in CLUSTER_SCHEMES:
        return "cluster"
    if scheme in SENTINEL_SCHEMES:
        return "sentinel"
    raise ConfigurationError(
        "url: must be a redis://, rediss://, unix://, redis+cluster:// or redis+sentinel:// URL"
    )


def _node(text: str, default_port: int) -> tuple[str, int]:
    if text.startswith("["):  # [IPv6]:port
        host, _, rest = text[1:].partition("]")
        port_text = rest[1:] if rest.startswith(":") else ""
    else:
        host, _, port_text = text.partition(":")
    if not host:
        raise ConfigurationError("url: every node needs a host")
    if not port_text:
        return host, default_port
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ConfigurationError("url: a node's port must be a number from 1 to 65535")
    return host, int(port_text)


def _parse(url: str, kind: str) -> _Parsed:
    parts = urlsplit(url)
    for name, _ in parse_qsl(parts.query, keep_blank_values=True):
        raise ConfigurationError(f"url: unknown option {name!r} (no query options are read)")
    if parts.query or parts.fragment:
        raise ConfigurationError("url: must not carry a query string or a fragment")
    userinfo, at, hosts = parts.netloc.rpartition("@")
    if not at:
        userinfo, hosts = "", parts.netloc
    username, colon, password = userinfo.partition(":")
    nodes = [_node(item, _DEFAULT_PORT[kind]) for item in hosts.split(",") if item]
    if not nodes:
        raise ConfigurationError("url: names no node")
    return _Parsed(
        nodes=nodes,
        username=unquote(username) or None,
        password=unquote(password) if colon else None,
        path=[unquote(p) for p in parts.path.split("/") if p],
        tls=parts.scheme.lower().startswith("rediss"),
    )


def _one_retry(family: Family) -> Any:
    # One retry, on a broken connection only, inside the caller's deadline:
    # after a restart or a failover every pooled connection is dead, and each
    # would otherwise fail one request.  A timeout is never retried.
    return family.retry(NoBackoff(), 1, supported_errors=(RedisConnectionError,))


def _cluster(family: Family, url: str, timeout: float, max_connections: int) -> Any:
    parsed = _parse(url, "cluster")
    if parsed.path not in ([], ["0"]):
        raise ConfigurationError("url: a Redis Cluster has only database 0")
    return family.cluster(
        startup_nodes=[family.cluster_node(host, port) for host, port in parsed.nodes],
        username=parsed.username,
        password=parsed.password,
        ssl=parsed.tls,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        max_connections=max_connections,
        # The client refreshes its slot map after a MOVED or a dead node; the
        # store's own deadline bounds how long it may try.
        retry=_one_retry(family),
    )


def _sentinel(family: Family, url: str, timeout: float, max_connections: int) -> Any:
    parsed = _parse(url, "sentinel")
    if not parsed.path or len(parsed.path) > 2:
        raise ConfigurationError("url: must end in /<service name> or /<service name>/<db>")
    service, db = parsed.path[0], parsed.path[1] if len(parsed.path) == 2 else "0"
    if not db.isdigit():
        raise ConfigurationError("url: the database after the service name must be a number")
    sentinel = family.sentinel(
        parsed.nodes,
        sentinel_kwargs={"socket_timeout": timeout, "socket_connect_timeout": timeout},
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
    )
    return sentinel.master_for(
        service,
        db=int(db),
        username=parsed.username,
        password=parsed.password,
        ssl=parsed.tls,
        max_connections=max_connections,
        retry=_one_retry(family),
    )


def _single(family: Family, url: str, timeout: float, max_connections: int) -> Any:
    try:
        # A blocking pool: a burst beyond max_connections waits (within the
        # timeout) for a free connection instead of failing at once.
        pool = family.blocking_pool.from_url(
            url,
            max_connections=max_connections,
            timeout=timeout,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            retry=_one_retry(family),
        )
    except (ValueError, RedisError) as exc:
        raise ConfigurationError("url: is not a valid Redis URL") from exc
    return family.redis(connection_pool=pool)


_BUILDERS = {"single": _single, "cluster": _cluster, "sentinel": _sentinel}


def build_client(url: str, *, timeout: float, max_connections: int) -> Any:
    """A redis-py asyncio client for ``url`` (see the module docstring for the forms)."""
    return _BUILDERS[topology_of(url)](ASYNC, url, timeout, max_connections)


def build_sync_client(url: str, *, timeout: float, max_connections: int) -> Any:
    """The blocking redis-py client for ``url``: the same topology and settings.

    A blocking ``RedisCluster`` reads the slot map as it is built, so call
    this where a connection may be opened (the first call of a forked
    worker), not at import time in a pre-fork master.
    """
    return _BUILDERS[topology_of(url)](SYNC, url, timeout, max_connections)


async def close_client(client: Any) -> None:
    """Close a client from :func:`build_client`, its pool and any Sentinel clients."""
    await client.aclose()
    pool = getattr(client, "connection_pool", None)
    if pool is None:  # a RedisCluster closes its nodes itself
        return
    # A pool handed to a client is not always the client's to close.
    await pool.disconnect()
    manager = getattr(pool, "sentinel_manager", None)
    for sentinel in getattr(manager, "sentinels", ()):
        await sentinel.aclose()


def close_sync_client(client: Any) -> None:
    """Close a client from :func:`build_sync_client`, its pool and any Sentinel clients."""
    client.close()
    pool = getattr(client, "connection_pool", None)
    if pool is None:  # a RedisCluster closes its nodes itself
        return
    pool.disconnect()
    manager = getattr(pool, "sentinel_manager", None)
    for sentinel in getattr(manager, "sentinels", ()):
        sentinel.close()
