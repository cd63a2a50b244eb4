"""A :class:`~okta_bearer._store.memory.Store` in Redis, shared by every process and machine.

Install with ``pip install 'okta-bearer[redis]'``.  It uses redis-py's asyncio
client::

    from okta_bearer.redis_store import RedisStore

    store = RedisStore("redis://127.0.0.1:6379/0", timeout=0.25)

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
Every call is bounded by ``timeout`` (connect, send and answer together; a
broken pooled connection is replaced once within it, nothing else is retried),
and any failure, a Redis error, a refused connection or the
deadline, is raised as :class:`~okta_bearer._store.memory.StoreUnavailable`; the
caller decides what an outage means (503 for DPoP, by default).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections.abc import Awaitable
from typing import Any, TypeVar
from urllib.parse import urlsplit

try:
    import redis.asyncio as aioredis
    from redis.asyncio.retry import Retry
    from redis.backoff import NoBackoff
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import RedisError
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        "okta_bearer.redis_store needs redis-py: pip install 'okta-bearer[redis]'"
    ) from exc

from ._errors import ConfigurationError
from ._options import checked_options
from ._store.memory import StoreUnavailable

__all__ = ["RedisStore"]

_T = TypeVar("_T")
_SCHEMES = ("redis", "rediss", "unix")

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
    """A :class:`~okta_bearer._store.memory.Store` backed by a Redis server.

    Args:
        url: ``redis://[user:password@]host:port/db``, ``rediss://...`` (TLS)
            or ``unix:///path/to/socket``.  It is never logged or shown in
            errors, since it may hold a password.
        timeout: seconds any one call may take in total before it raises
            :class:`StoreUnavailable`.
        prefix: put in front of every key, followed by ``:``, so several
            applications can share one database (a trailing ``:`` is ignored;
            ``""`` for none).
        max_connections: size of the connection pool.

    Raises:
        ConfigurationError: a URL of another scheme, a non-positive timeout or
            pool size.
    """

    def __init__(
        self,
        url: str,
        *,
        timeout: float = 0.5,
        prefix: str = "okta_bearer",
        max_connections: int = 50,
    ) -> None:
        if not isinstance(url, str) or urlsplit(url).scheme not in _SCHEMES:
            raise ConfigurationError("url: must be a redis://, rediss:// or unix:// URL")
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
        self.timeout = float(timeout)
        stripped = prefix.rstrip(":")
        self.prefix = f"{stripped}:" if stripped else ""
        try:
            # A blocking pool: a burst beyond max_connections waits (within the
            # timeout) for a free connection instead of failing at once.
            pool = aioredis.BlockingConnectionPool.from_url(
                url,
                max_connections=max_connections,
                timeout=self.timeout,
                socket_timeout=self.timeout,
                socket_connect_timeout=self.timeout,
                # One retry, on a broken connection only, inside the same
                # deadline: after a Redis restart every pooled connection is
                # dead, and each would otherwise fail one request.  A timeout
                # is never retried; callers decide what an outage means.
                retry=Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError,)),
            )
            self._pool: Any = pool
            self._client: Any = aioredis.Redis(connection_pool=pool)
            self._delete_if_equal: Any = self._client.register_script(_DELETE_IF_EQUAL)
            self._increment: Any = self._client.register_script(_INCREMENT)
        except (ValueError, RedisError) as exc:
            raise ConfigurationError("url: is not a valid Redis URL") from exc

    async def _call(self, command: Awaitable[_T]) -> _T:
        try:
            # The outer deadline covers waiting for a pooled connection too.
            return await asyncio.wait_for(command, self.timeout)
        except (RedisError, OSError, asyncio.TimeoutError) as exc:
            raise StoreUnavailable(f"Redis did not answer: {type(exc).__name__}") from None

    @staticmethod
    def _milliseconds(ttl: float) -> int:
        if isinstance(ttl, bool) or not isinstance(ttl, (int, float)) or not ttl > 0:
            raise ValueError("ttl must be a positive number of seconds")
        return max(1, math.ceil(ttl * 1000))

    async def set_if_absent(self, key: str, value: bytes, ttl: float) -> bool:
        """``SET prefix+key value NX PX ttl``: ``True`` when this call stored it."""
        px = self._milliseconds(ttl)
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
        """Close the client and its connection pool."""
        # Closing a dead connection is not worth an error.
        with contextlib.suppress(RedisError, OSError):
            await self._client.aclose()
            # A pool given to the client is the giver's to close.
            await self._pool.disconnect()
