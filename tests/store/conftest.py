"""Fixtures: redis-server per module, a Sentinel set per session, each Store.

The session's Redis Cluster (``redis_cluster``) is in tests/conftest.py: tests/fleet uses it too.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from okta_bearer._store.memory import MemoryStore, Store
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


@pytest.fixture(params=["memory", "redis", "cluster", "sentinel"])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[Store]:
    """Each backend in turn, for the tests every Store must pass."""
    if request.param == "memory":
        yield MemoryStore()
        return
    if request.param == "redis":
        server: RedisServer = request.getfixturevalue("redis_server")
        if server.process is None:
            server.start()
        url = server.url
    else:
        url = request.getfixturevalue(f"redis_{request.param}").url
    backend = await emptied(RedisStore(url, timeout=2.0))
    try:
        yield backend
    finally:
        await backend.aclose()
