"""What a Redis failover can lose and what ``replica_acks`` costs.

Run: ``python -m benchmarks.redis_failover`` (about 40 s).

It starts a primary and one replica (Debian's ``redis-server``, loopback, no
persistence; asynchronous replication, Redis's default) and measures:

1. **Latency**: ``RedisStore.set_if_absent`` (a DPoP replay mark) with
   ``replica_acks=0`` (one ``SET NX PX``) and ``replica_acks=1`` (the same
   ``SET`` followed by ``WAIT 1`` on the same connection), sequential calls,
   interleaved rounds; mean, p50 and p99 in microseconds.
2. **Window**: right after a ``SET`` is acknowledged to the client, how often
   the replica does not hold it yet, and how long until it does.
3. **Loss**: writers keep storing marks with several calls in flight; the
   primary is SIGKILLed at a random moment and the replica's copy (what a
   promoted replica would serve) is compared with the marks the writers were
   told were stored.  Repeated ``--trials`` times for each mode.

Loopback only: on a network the window grows with the round trip to the
replica, and so does the ``WAIT`` cost.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import signal
import statistics
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import redis

from okta_bearer._store.memory import StoreUnavailable
from okta_bearer.redis_store import RedisStore

from ._redis import _free_port, redis_binary


class _Node:
    def __init__(self, workdir: Path, options: list[str]) -> None:
        self.port = _free_port()
        self.workdir = workdir
        self.options = options
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        binary = redis_binary()
        if binary is None:
            raise RuntimeError(
                "redis-server is not installed (Debian: apt-get install redis-server)"
            )
        command = [
            binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
            "--appendonly", "no", "--dir", str(self.workdir), "--protected-mode", "yes",
            "--repl-diskless-sync-delay", "0", *self.options,
        ]  # fmt: skip
        with (self.workdir / f"redis-{self.port}.log").open("ab") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=log)  # noqa: S603
        _until(lambda: self.client().ping())

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.port, socket_timeout=2, socket_connect_timeout=2)

    def kill(self) -> None:
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait()
        self.process = None

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=30)
            self.process = None


def _until(condition: object, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if condition():  # type: ignore[operator]
                return
        except redis.RedisError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError("redis-server did not get ready")
        time.sleep(0.02)


@contextmanager
def _pair(*, steady: bool = True) -> Iterator[tuple[_Node, _Node]]:
    with tempfile.TemporaryDirectory() as workdir:
        primary = _Node(Path(workdir), [])
        replica = _Node(Path(workdir), ["--replicaof", "127.0.0.1", str(primary.port)])
        try:
            primary.start()
            replica.start()
            _wait_synced(primary, replica, steady=steady)
            yield primary, replica
        finally:
            replica.stop()
            primary.stop()


def _wait_synced(primary: _Node, replica: _Node, *, steady: bool) -> None:
    # "master_link_status:up" comes first; right after a full sync the replica
    # was seen trailing by over a second, so a steady-state run waits for a
    # probe write to arrive before it measures.
    _until(lambda: replica.client().info("replication")["master_link_status"] == "up")
    if not steady:
        return
    primary.client().set("probe", b"1")
    _until(lambda: replica.client().exists("probe"))


def _summary(samples: list[float]) -> str:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return (
        f"mean {statistics.fmean(ordered):7.1f}  p50 {statistics.median(ordered):7.1f}"
        f"  p99 {p99:7.1f}"
    )


async def _latency(url: str, calls: int, rounds: int) -> dict[int, list[float]]:
    stores = {acks: RedisStore(url, timeout=2.0, replica_acks=acks) for acks in (0, 1)}
    samples: dict[int, list[float]] = {0: [], 1: []}
    try:
        for round_ in range(rounds):
            for acks, store in stores.items():
                for i in range(calls):
                    started = time.perf_counter()
                    await store.set_if_absent(f"lat:{acks}:{round_}:{i}", b"1", 60)
                    samples[acks].append((time.perf_counter() - started) * 1e6)
    finally:
        for store in stores.values():
            await store.aclose()
    return samples


def _window(primary: _Node, replica: _Node, writes: int) -> tuple[int, list[float]]:
    writer, reader = primary.client(), replica.client()
    missing, lags = 0, []
    for i in range(writes):
        key = f"window:{i}"
        writer.set(key, b"1", px=60_000)
        acknowledged = time.perf_counter()
        if reader.exists(key):
            continue
        missing += 1
        # Polled until replicated, with a bound: a replica that stopped
        # replicating ends the benchmark instead of hanging it.
        while not reader.exists(key):
            if time.perf_counter() - acknowledged > 10.0:
                raise SystemExit(f"{key} did not reach the replica within 10 s")
        lags.append((time.perf_counter() - acknowledged) * 1e6)
    return missing, lags


async def _loss_trial(primary: _Node, replica: _Node, acks: int, in_flight: int) -> tuple[int, int]:
    url = f"redis://127.0.0.1:{primary.port}/0"
    store = RedisStore(url, timeout=1.0, replica_acks=acks)
    stored: list[str] = []
    counter = iter(range(10**9))

    async def writer() -> None:
        while True:
            key = f"loss:{next(counter)}"
            try:
                if await store.set_if_absent(key, b"1", 60):
                    stored.append(key)
            except StoreUnavailable:
                return

    tasks = [asyncio.create_task(writer()) for _ in range(in_flight)]
    await asyncio.sleep(random.uniform(0.2, 0.5))  # noqa: S311 - a random moment, not a secret
    primary.kill()
    await asyncio.gather(*tasks)
    await store.aclose()
    survivors = replica.client()
    lost = sum(1 for key in stored if not survivors.exists(f"okta_bearer:{key}"))
    return lost, len(stored)


async def _loss(trials: int, in_flight: int, *, steady: bool) -> dict[int, list[tuple[int, int]]]:
    results: dict[int, list[tuple[int, int]]] = {0: [], 1: []}
    for _ in range(trials):
        for acks in (0, 1):
            with _pair(steady=steady) as (primary, replica):
                results[acks].append(await _loss_trial(primary, replica, acks, in_flight))
    return results


def main(argv: list[str] | None = None) -> None:
    """Run the three measurements and print them."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.redis_failover")
    parser.add_argument("--calls", type=int, default=2000, help="calls per latency round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--trials", type=int, default=10, help="kills per mode")
    parser.add_argument("--in-flight", type=int, default=16, help="concurrent writers")
    args = parser.parse_args(argv)
    with _pair() as (primary, replica):
        url = f"redis://127.0.0.1:{primary.port}/0"
        latency = asyncio.run(_latency(url, args.calls, args.rounds))
        missing, lags = _window(primary, replica, args.calls)
    print(f"1. set_if_absent latency, us ({args.rounds} rounds x {args.calls} calls, loopback)")
    for acks, samples in latency.items():
        print(f"   replica_acks={acks}: {_summary(samples)}")
    print(f"2. window: {missing} of {args.calls} acknowledged SETs not yet on the replica")
    if lags:
        print(f"   until visible there, us: {_summary(lags)}, max {max(lags):.1f}")
    print(f"3. loss: primary SIGKILLed mid-run, {args.in_flight} writers, {args.trials} trials")
    for steady, when in ((True, "replica in steady state"), (False, "right after its full sync")):
        loss = asyncio.run(_loss(args.trials, args.in_flight, steady=steady))
        print(f"   {when}:")
        for acks, trials in loss.items():
            lost = [lost for lost, _ in trials]
            total = sum(n for _, n in trials)
            print(
                f"     replica_acks={acks}: {sum(lost)} of {total} stored marks lost;"
                f" per trial {lost}"
            )


if __name__ == "__main__":
    main()
