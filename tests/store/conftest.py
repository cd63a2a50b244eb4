"""Fixtures: redis-server per module, a Sentinel set per session, each Store.

The session's Redis Cluster (``redis_cluster``) is in tests/conftest.py: tests/fleet uses it too.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest

from okta_bearer._store.memory import MemoryStore, Store, SyncStore
from okta_bearer.redis_store import RedisStore

from ._server import RedisServer
from ._topologies import SentinelSet


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """redis-server on a free 127.0.0.1 port, stopped after the module."""
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def redis_sentinel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SentinelSet]:
    """A primary, a replica and three Sentinels on free ports, for the whole session."""
    sentinels = SentinelSet(tmp_path_factory.mktemp("sentinel"))
    try:
        sentinels.start()
        yield sentinels
    finally:
        sentinels.stop()


async def emptied(store: RedisStore) -> RedisStore:
    """``store`` after FLUSHDB (on every primary of a cluster)."""
    await store._client.flushdb()
    return store


@pytest.fixture
async def redis_store(redis_server: RedisServer) -> AsyncIterator[RedisStore]:
    """A RedisStore on the module's server, with its database emptied first."""
    if redis_server.process is None:
        redis_server.start()
    store = RedisStore(redis_server.url, timeout=2.0)
    await store._client.flushdb()
    try:
        yield store
    finally:
        await store.aclose()


class InThreads:
    """A :class:`SyncStore` driven as a :class:`Store`: each call runs the face in a thread.

    So the async contract tests run, unchanged, on every blocking face, and
    their ``asyncio.gather`` races become races between threads.
    """

    def __init__(self, face: SyncStore) -> None:
        self.face = face

    async def _thread(self, call: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.to_thread(call, *args)

    async def set_if_absent(self, key: str, value: bytes, ttl: float) -> bool:
        return bool(await self._thread(self.face.set_if_absent, key, value, ttl))

    async def set(self, key: str, value: bytes, ttl: float) -> None:
        await self._thread(self.face.set, key, value, ttl)

    async def get(self, key: str) -> bytes | None:
        value: bytes | None = await self._thread(self.face.get, key)
        return value

    async def delete(self, key: str) -> None:
        await self._thread(self.face.delete, key)

    async def delete_if_equal(self, key: str, value: bytes) -> bool:
        return bool(await self._thread(self.face.delete_if_equal, key, value))

    async def increment(self, key: str, ttl: float) -> int:
        return int(await self._thread(self.face.increment, key, ttl))

    async def aclose(self) -> None:
        await self._thread(self.face.close)


def redis_url(request: pytest.FixtureRequest, topology: str) -> str:
    """The URL of the module's server (``redis``) or the session's cluster or Sentinel set."""
    if topology == "redis":
        server: RedisServer = request.getfixturevalue("redis_server")
        if server.process is None:
            server.start()
        return server.url
    url: str = request.getfixturevalue(f"redis_{topology}").url
    return url


BACKENDS = ["memory", "redis", "cluster", "sentinel"]


@pytest.fixture(params=[*BACKENDS, *(f"{name}.sync" for name in BACKENDS)])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[Store]:
    """Each backend in turn, async face and blocking face, for the tests every Store must pass."""
    name, _, face = request.param.partition(".")
    backend: MemoryStore | RedisStore
    if name == "memory":
        backend = MemoryStore()
    else:
        backend = await emptied(RedisStore(redis_url(request, name), timeout=2.0))
    try:
        yield InThreads(backend.sync) if face else backend
    finally:
        await backend.aclose()
