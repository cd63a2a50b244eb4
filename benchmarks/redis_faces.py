"""What the blocking face (``RedisStore.sync``) costs against the async face.

Run: ``python -m benchmarks.redis_faces`` (43 s here, under load).

A primary and one replica (Debian's ``redis-server``, loopback, the same pair
as ``benchmarks.redis_failover``); ``set_if_absent`` (a DPoP replay mark) one
call at a time through each face, with ``replica_acks=0`` and ``=1``, in
interleaved rounds so that a noisy moment of this shared machine hits every
row alike; mean, p50 and p99 in microseconds.  The async face runs on one
event loop (``await`` per call); the blocking face is called from the same
thread (redis-py's blocking client, one pooled connection reused).
"""

from __future__ import annotations

import argparse
import asyncio
import time

from okta_bearer.redis_store import RedisStore

from .redis_failover import _pair, _summary

MODES = [(face, acks) for acks in (0, 1) for face in ("async", "sync")]


async def _measure(url: str, calls: int, rounds: int) -> dict[tuple[str, int], list[float]]:
    stores = {acks: RedisStore(url, timeout=2.0, replica_acks=acks) for acks in (0, 1)}
    samples: dict[tuple[str, int], list[float]] = {mode: [] for mode in MODES}
    try:
        for store in stores.values():  # connections and scripts ready before timing
            await store.get("warm")
            store.sync.get("warm")
        for round_ in range(rounds):
            for face, acks in MODES:
                store, out = stores[acks], samples[face, acks]
                for i in range(calls):
                    key = f"faces:{face}:{acks}:{round_}:{i}"
                    started = time.perf_counter()
                    if face == "async":
                        await store.set_if_absent(key, b"1", 60)
                    else:
                        store.sync.set_if_absent(key, b"1", 60)
                    out.append((time.perf_counter() - started) * 1e6)
    finally:
        for store in stores.values():
            await store.aclose()
    return samples


def main(argv: list[str] | None = None) -> None:
    """Measure both faces and print one row per face and mode."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.redis_faces")
    parser.add_argument("--calls", type=int, default=2000, help="calls per round and mode")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    with _pair() as (primary, _replica):
        url = f"redis://127.0.0.1:{primary.port}/0"
        samples = asyncio.run(_measure(url, args.calls, args.rounds))
    print(f"set_if_absent, us ({args.rounds} interleaved rounds x {args.calls} calls, loopback)")
    for (face, acks), values in samples.items():
        print(f"   {face:5} face, replica_acks={acks}: {_summary(values)}")


if __name__ == "__main__":
    main()
