"""A :class:`~okta_bearer._store.memory.Store` in Redis, shared by every process and machine.

Install with ``pip install 'okta-bearer[redis]'``.  It uses redis-py's asyncio
client::

    from okta_bearer.redis_store import RedisStore

    store = RedisStore("redis://127.0.0.1:6379/0", timeout=0.25)

``set_if_absent`` is one ``SET key value NX PX ttl`` command, atomic on the
server, so of any number of replicas racing on a DPoP ``jti`` exactly one wins.
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


@checked_options
class RedisStore:
    """A :class:`~okta_bearer._store.memory.Store` backed by a Redis server.

    Args:
        url: ``redis://[user:password@]host:port/db``, ``rediss://...`` (TLS)
            or ``unix:///path/to/socket``.  It is never logged or shown in
            errors, since it may hold a password.
        timeout: seconds any one call may take in total before it raises
            :class:`StoreUnavailable`.
        prefix: put in front of every key, so several applications can share
            one database.
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
        prefix: str = "okta_bearer:",
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
        self.prefix = prefix
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

    async def aclose(self) -> None:
        """Close the client and its connection pool."""
        # Closing a dead connection is not worth an error.
        with contextlib.suppress(RedisError, OSError):
            await self._client.aclose()
            # A pool given to the client is the giver's to close.
            await self._pool.disconnect()
