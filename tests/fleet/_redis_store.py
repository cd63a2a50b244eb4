"""A minimal Redis-backed Store for the fleet tests (the library's own lives in redis_store)."""

from __future__ import annotations

import redis.asyncio as redis
from redis.exceptions import RedisError

from okta_bearer._store import StoreUnavailable


def _ms(ttl: float) -> int:
    return max(1, int(ttl * 1000))


class RedisTestStore:
    """okta_bearer's Store interface over redis-py (SET NX PX, GET, DEL)."""

    def __init__(self, unix_socket: str) -> None:
        self._redis = redis.Redis(unix_socket_path=unix_socket)

    async def set_if_absent(self, key: str, value: bytes, ttl: float) -> bool:
        try:
            return bool(await self._redis.set(key, value, nx=True, px=_ms(ttl)))
        except RedisError as exc:
            raise StoreUnavailable(str(exc)) from exc

    async def set(self, key: str, value: bytes, ttl: float) -> None:
        try:
            await self._redis.set(key, value, px=_ms(ttl))
        except RedisError as exc:
            raise StoreUnavailable(str(exc)) from exc

    async def get(self, key: str) -> bytes | None:
        try:
            value = await self._redis.get(key)
        except RedisError as exc:
            raise StoreUnavailable(str(exc)) from exc
        if isinstance(value, str):  # only with decode_responses=True, which we do not set
            return value.encode()
        return value

    async def delete(self, key: str) -> None:
        try:
            await self._redis.delete(key)
        except RedisError as exc:
            raise StoreUnavailable(str(exc)) from exc

    async def aclose(self) -> None:
        await self._redis.aclose()
