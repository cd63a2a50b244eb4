"""Fixtures: a real redis-server per module, and a Store of each backend."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from okta_bearer._store.memory import MemoryStore, Store
from okta_bearer.redis_store import RedisStore

from ._server import RedisServer


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """redis-server on a free 127.0.0.1 port, stopped after the module."""
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


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


@pytest.fixture(params=["memory", "redis"])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[Store]:
    """Each backend in turn, for the tests every Store must pass."""
    if request.param == "memory":
        yield MemoryStore()
        return
    server: RedisServer = request.getfixturevalue("redis_server")
    if server.process is None:
        server.start()
    backend = RedisStore(server.url, timeout=2.0)
    await backend._client.flushdb()
    try:
        yield backend
    finally:
        await backend.aclose()
