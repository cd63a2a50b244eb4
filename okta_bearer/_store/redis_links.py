"""How each redis-py client family reaches Redis for the store's operations.

One job: give an :class:`~okta_bearer._store.redis_ops.Op` what it talks to
(:class:`~okta_bearer._store.redis_ops.Link`): the client, the two Lua scripts
registered on it (from the one definition in ``redis_ops``), a pipeline
pinned to the primary that serves a key, and a slot-map refresh.

The pinned pipeline is what ``replica_acks`` needs: ``WAIT`` counts the
writes of its own connection, so the ``SET`` and the ``WAIT`` must share one
connection to the primary that stored the key.  On one server or a Sentinel
primary that is an ordinary pipeline.  On a Cluster it is a pipeline on one
connection to ``get_node_from_key(key)``'s node, sent as it is: no
``MOVED``/``ASK`` is followed in between (the ``WAIT`` would then count a
connection that wrote nothing, and answer for a write it never saw), so a
redirection fails the call closed, and the face may refresh its slot map and
run it once more (``redis_ops``, "The one retry after a fresh slot map").
"""

from __future__ import annotations

from typing import Any

from redis.asyncio.cluster import PipelineCommand

from .redis_ops import DELETE_IF_EQUAL, INCREMENT
from .redis_topology import ASYNC, SYNC

__all__ = ["AsyncLink", "SyncLink"]


class _NodePipeline:
    """Commands for one asyncio cluster node, sent on one of its connections as a pipeline."""

    def __init__(self, client: Any, name: str) -> None:
        self._client = client
        self._name = name
        self._commands: list[tuple[Any, ...]] = []

    def execute_command(self, *args: Any) -> _NodePipeline:
        self._commands.append(args)
        return self

    async def execute(self) -> list[Any]:
        await self._client.initialize()  # a no-op once the slot map is read
        node = self._client.get_node_from_key(self._name)
        commands = [PipelineCommand(i, *args) for i, args in enumerate(self._commands)]
        # ClusterNode.execute_pipeline writes every command on one connection
        # and reads each reply (or error) into its command, redirections included.
        await node.execute_pipeline(commands)
        for command in commands:
            if isinstance(command.result, BaseException):
                raise command.result
        return [command.result for command in commands]


class AsyncLink:
    """The store's async face: a ``redis.asyncio`` client (one server, Sentinel or Cluster)."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.cluster = isinstance(client, ASYNC.cluster)
        self.delete_if_equal: Any = client.register_script(DELETE_IF_EQUAL)
        self.increment: Any = client.register_script(INCREMENT)

    def pinned(self, name: str) -> Any:
        """A pipeline on one connection to the primary serving ``name``."""
        if self.cluster:
            return _NodePipeline(self.client, name)
        return self.client.pipeline(transaction=False)

    async def refresh(self) -> bool:
        """Read the cluster's slot map again, now (not paced like redis-py's own refresh).

        ``False`` (nothing done) while the client never read a map: its next
        call reads one anyway.  A node the new map drops (a dead primary) has
        its connections closed here: no later refresh or ``aclose`` would.
        """
        manager = self.client.nodes_manager
        if not manager.slots_cache:
            return False
        before = dict(manager.nodes_cache)
        await manager.initialize()
        for name, node in before.items():
            if name not in manager.nodes_cache:
                await node.disconnect()
        return True


class SyncLink:
    """The store's ``sync`` face: a blocking redis-py client (one server, Sentinel or Cluster)."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.cluster = isinstance(client, SYNC.cluster)
        self.delete_if_equal: Any = client.register_script(DELETE_IF_EQUAL)
        self.increment: Any = client.register_script(INCREMENT)

    def pinned(self, name: str) -> Any:
        """A pipeline on one connection to the primary serving ``name``."""
        if self.cluster:
            node = self.client.get_node_from_key(name)
            return self.client.get_redis_connection(node).pipeline(transaction=False)
        return self.client.pipeline(transaction=False)

    def refresh(self) -> bool:
        """Read the cluster's slot map again, now (not paced like redis-py's own refresh).

        ``False`` (nothing done) while the client never read a map.  A node
        the new map drops (a dead primary) has its pool closed here.
        """
        manager = self.client.nodes_manager
        if not manager.slots_cache:
            return False
        before = dict(manager.nodes_cache)
        manager.initialize()
        for name, node in before.items():
            if name not in manager.nodes_cache and node.redis_connection is not None:
                node.redis_connection.connection_pool.disconnect()
        return True
