"""Shared fixtures: async tests run on asyncio through anyio's pytest plugin; one Redis Cluster."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .store._topologies import ClusterSet


@pytest.fixture
def anyio_backend() -> str:
    """okta_bearer's key store uses asyncio tasks, so tests run on asyncio."""
    return "asyncio"


@pytest.fixture(scope="session")
def redis_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClusterSet]:
    """A Redis Cluster of 3 primaries and 3 replicas on free ports, for the whole session.

    Shared by tests/store and tests/fleet; a test that kills a node restarts it after.
    """
    cluster = ClusterSet(tmp_path_factory.mktemp("cluster"))
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()
