"""A local Redis Cluster (3 primaries, 3 replicas) and a Sentinel set, on free loopback ports.

Both are Debian's ``redis-server``: cluster nodes run with ``cluster-enabled
yes``, and the same binary is a Sentinel with ``--sentinel`` (no separate
``redis-sentinel`` package is needed).  Timeouts are short so that a failover
takes a few seconds: a cluster replica is promoted ``cluster-node-timeout``
(1 s) after its primary stops answering, and Sentinel fails over after
``down-after-milliseconds`` (1 s) plus an election.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import redis

from ..servers import free_port
from ._server import RedisServer

SERVICE = "okta_bearer_test"
READY_TIMEOUT = 30.0
# A replica's first sync starts at once instead of after the default 5 s delay.
_FAST_SYNC = ("--repl-diskless-sync-delay", "0")


def _wait(condition: Callable[[], bool], what: str, timeout: float = READY_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if condition():
                return
        except redis.RedisError:
            pass
        time.sleep(0.05)
    pytest.fail(f"{what} within {timeout} s")


def _command(port: int, *args: object) -> Any:
    """One command to the server on ``port``, on a connection of its own, decoded."""
    client = redis.Redis(
        port=port, socket_timeout=1, socket_connect_timeout=1, decode_responses=True
    )
    try:
        return client.execute_command(*args)  # type: ignore[no-untyped-call]
    finally:
        client.close()


def _acknowledged(port: int, key: str = "probe") -> bool:
    """Whether a probe write of ``key`` on ``port`` reaches a replica within 100 ms."""
    client = redis.Redis(port=port, socket_timeout=1, socket_connect_timeout=1)
    try:
        pipe = client.pipeline(transaction=False)
        pipe.set(key, b"1")
        pipe.execute_command("WAIT", 1, 100)  # type: ignore[no-untyped-call]
        return bool(pipe.execute()[1] >= 1)
    finally:
        client.close()


def _info(port: int, section: str) -> dict[str, object]:
    client = redis.Redis(port=port, socket_timeout=1, socket_connect_timeout=1)
    try:
        return dict(client.info(section))
    finally:
        client.close()


def _start_all(servers: list[RedisServer]) -> None:
    # Parallel start: launch every process, then wait for each.
    for server in servers:
        server.launch()
    for server in servers:
        server.wait_ready()


class ClusterSet:
    """Six cluster-enabled redis-servers joined by ``redis-cli --cluster create``."""

    def __init__(self, workdir: Path) -> None:
        options = [
            "--cluster-enabled", "yes", "--cluster-node-timeout", "1000",
            "--cluster-config-file", "nodes.conf",
            # A replica of a dead primary may take over at once, whatever its lag.
            "--cluster-replica-validity-factor", "0", *_FAST_SYNC,
        ]  # fmt: skip
        # The bus port is chosen too: the default (port + 10000) fails above 55535.
        self.nodes = [
            RedisServer(workdir / f"node{i}", [*options, "--cluster-port", str(free_port())])
            for i in range(6)
        ]

    @property
    def url(self) -> str:
        """``redis+cluster://`` with every node as a seed."""
        seeds = ",".join(f"127.0.0.1:{node.port}" for node in self.nodes)
        return f"redis+cluster://{seeds}/"

    def start(self) -> None:
        """Start the six nodes in parallel, create the cluster and wait until it serves."""
        _start_all(self.nodes)
        addresses = [f"127.0.0.1:{node.port}" for node in self.nodes]
        subprocess.run(  # noqa: S603 - fixed arguments, our own ports
            ["redis-cli", "--cluster", "create", *addresses, "--cluster-replicas", "1",  # noqa: S607
             "--cluster-yes"],
            check=True, capture_output=True, timeout=60,
        )  # fmt: skip
        self.wait_ok()

    def wait_ok(self) -> None:
        """Wait until every running node reports ``cluster_state:ok``."""
        for node in self.nodes:
            if node.process is not None:
                _wait(
                    lambda node=node: _node_ok(node.port),  # type: ignore[misc]
                    f"cluster node {node.port} was not ok",
                )

    def serving(self) -> bool:
        """Whether, right now, three primaries serve and every running node reports ok."""
        try:
            running = [node for node in self.nodes if node.process is not None]
            return all(_node_ok(node.port) for node in running) and len(self.primaries()) == 3
        except redis.RedisError:
            return False

    def primaries(self) -> list[RedisServer]:
        """The running nodes that are primaries now."""
        return [
            node
            for node in self.nodes
            if node.process is not None and _info(node.port, "replication")["role"] == "master"
        ]

    def primary_for(self, key: str) -> RedisServer:
        """The running primary serving ``key``'s slot now."""
        for node in self.primaries():
            slot = _command(node.port, "CLUSTER", "KEYSLOT", key)
            owners = _command(node.port, "CLUSTER", "SLOTS")
            for start, end, primary, *_ in owners:
                if start <= slot <= end:
                    port = int(primary[1])
                    return next(n for n in self.nodes if n.port == port)
        raise AssertionError(f"no primary serves {key}")

    def replica_of(self, primary: RedisServer) -> RedisServer:
        """The running replica of ``primary``."""
        for node in self.nodes:
            if node.process is not None and node is not primary:
                info = _info(node.port, "replication")
                if info["role"] == "slave" and int(str(info["master_port"])) == primary.port:
                    return node
        raise AssertionError(f"{primary.port} has no replica")

    def key_on(self, primary: RedisServer, prefix: str) -> str:
        """A key ``<prefix><n>`` whose slot ``primary`` serves now."""
        for n in range(10_000):
            if self.primary_for(f"{prefix}{n}") is primary:
                return f"{prefix}{n}"
        raise AssertionError(f"no key for {primary.port}")

    def wait_replicated(self) -> None:
        """Wait until every primary's writes are acknowledged by a replica (WAIT 1).

        Right after a (re)sync a replica was seen trailing by a second, so
        "link up" is not enough for a test of ``replica_acks``.
        """
        for primary in self.primaries():
            key = self.key_on(primary, "probe")
            _wait(
                lambda port=primary.port, key=key: _acknowledged(port, key),  # type: ignore[misc]
                f"no replica of {primary.port} acknowledged",
            )

    def restore(self) -> None:
        """Restart killed nodes (they rejoin as replicas) and wait until all serve, replicated."""
        for node in self.nodes:
            if node.process is None:
                node.start()
        self.wait_ok()
        _wait(self.serving, "the cluster did not serve with three primaries")
        self.wait_replicated()

    def stop(self) -> None:
        """Stop every node."""
        for node in self.nodes:
            node.stop()


def _node_ok(port: int) -> bool:
    return _cluster_info(port)["cluster_state"] == "ok"


def _cluster_info(port: int) -> dict[str, str]:
    text = _command(port, "CLUSTER", "INFO")
    raw = text.decode() if isinstance(text, bytes) else str(text)
    return dict(line.split(":", 1) for line in raw.split() if ":" in line)


class SentinelSet:
    """One primary, one replica and three Sentinels watching them as :data:`SERVICE`."""

    def __init__(self, workdir: Path) -> None:
        self.primary = RedisServer(workdir / "primary", _FAST_SYNC)
        self.replica = RedisServer(
            workdir / "replica", [*_FAST_SYNC, "--replicaof", "127.0.0.1", str(self.primary.port)]
        )
        ids = [f"{i + 1:040x}" for i in range(3)]
        ports = [free_port() for _ in range(3)]
        # Each Sentinel is told its peers and the replica up front (the lines
        # Sentinel itself writes), instead of learning them over ~2 s hellos.
        common = [
            f"sentinel monitor {SERVICE} 127.0.0.1 {self.primary.port} 2",
            f"sentinel down-after-milliseconds {SERVICE} 1000",
            f"sentinel failover-timeout {SERVICE} 3000",
            f"sentinel parallel-syncs {SERVICE} 1",
            f"sentinel known-replica {SERVICE} 127.0.0.1 {self.replica.port}",
        ]
        self.sentinels = []
        for i in range(3):
            peers = [
                f"sentinel known-sentinel {SERVICE} 127.0.0.1 {ports[j]} {ids[j]}"
                for j in range(3)
                if j != i
            ]
            sentinel = RedisServer(
                workdir / f"sentinel{i}",
                sentinel_config="\n".join([f"sentinel myid {ids[i]}", *common, *peers, ""]),
            )
            sentinel.port = ports[i]
            self.sentinels.append(sentinel)

    @property
    def url(self) -> str:
        """``redis+sentinel://`` with the three Sentinels and the service name."""
        hosts = ",".join(f"127.0.0.1:{s.port}" for s in self.sentinels)
        return f"redis+sentinel://{hosts}/{SERVICE}/0"

    @property
    def data_nodes(self) -> list[RedisServer]:
        """The primary and the replica (whichever is which now)."""
        return [self.primary, self.replica]

    def start(self) -> None:
        """Start the data nodes, then the Sentinels, and wait until all three see the replica."""
        _start_all(self.data_nodes)
        self.wait_replicated()
        _start_all(self.sentinels)
        for sentinel in self.sentinels:
            _wait(
                lambda sentinel=sentinel: self._sentinel_sees_all(sentinel.port),  # type: ignore[misc]
                f"sentinel {sentinel.port} did not see its peers and the replica",
            )

    def restore(self) -> None:
        """Restart a killed data node as a replica of the current primary, and wait for its sync.

        Told its primary up front, it need not wait for the Sentinels to demote it.
        """
        primary = self.current_primary()
        for node in self.data_nodes:
            if node.process is None:
                node.options = [*_FAST_SYNC, "--replicaof", "127.0.0.1", str(primary.port)]
                node.start()
        self.wait_replicated()

    def wait_replicated(self) -> None:
        """Wait until one data node is a replica whose link to the primary is up."""

        def linked() -> bool:
            return any(
                _info(node.port, "replication").get("master_link_status") == "up"
                for node in self.data_nodes
                if node.process is not None
            )

        _wait(linked, "no replica is in sync")

        # "up" comes before the replica keeps pace: right after a full sync it
        # was seen trailing by a second, so wait until a write is acknowledged.
        def acknowledged() -> bool:
            return any(
                _info(node.port, "replication")["role"] == "master" and _acknowledged(node.port)
                for node in self.data_nodes
                if node.process is not None
            )

        _wait(acknowledged, "no replica acknowledged")

    @staticmethod
    def _sentinel_sees_all(port: int) -> bool:
        master = _command(port, "SENTINEL", "MASTER", SERVICE)  # parsed by redis-py
        return int(master["num-slaves"]) == 1 and int(master["num-other-sentinels"]) == 2

    def current_primary(self) -> RedisServer:
        """The data node the Sentinels name as primary now."""
        _host, port = _command(
            self.sentinels[0].port, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", SERVICE
        )
        return next(n for n in self.data_nodes if n.port == int(port))

    def stop(self) -> None:
        """Stop the Sentinels, then the data nodes."""
        for server in [*self.sentinels, *self.data_nodes]:
            server.stop()
