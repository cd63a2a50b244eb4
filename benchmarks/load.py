"""A bounded HTTP/1.1 load generator for loopback, used when ``wrk`` is not installed.

``python -m benchmarks.load --port P --path /api/items --connections 32
--duration 5 [--header 'Authorization: Bearer ...'] [--proofs FILE]`` keeps
that many keep-alive connections busy for that many seconds, then prints one
JSON line: requests, seconds, statuses and latency percentiles.  With
``--proofs`` (one DPoP proof per line, made beforehand so no signing happens
during the run) every request carries the next unused proof in a ``DPoP``
header, and the run ends early if they run out (``proofs_ran_out``).  It only
ever connects to 127.0.0.1 and stops by itself.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections.abc import Iterator


async def _worker(
    port: int,
    request: bytes,
    deadline: float,
    latencies: list[float],
    statuses: dict[int, int],
    proofs: Iterator[bytes] | None = None,
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while time.perf_counter() < deadline:
            message = request
            if proofs is not None:
                proof = next(proofs, None)
                if proof is None:
                    break
                message = request[:-2] + b"DPoP: " + proof + b"\r\n\r\n"
            start = time.perf_counter()
            writer.write(message)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - start)
            statuses[status] = statuses.get(status, 0) + 1
    finally:
        writer.close()
        await writer.wait_closed()


def _percentile(ordered: list[float], fraction: float) -> float:
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


async def _run(args: argparse.Namespace) -> dict[str, object]:
    lines = [f"GET {args.path} HTTP/1.1", f"Host: 127.0.0.1:{args.port}", *args.header]
    request = ("\r\n".join(lines) + "\r\n\r\n").encode()
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    proofs: Iterator[bytes] | None = None if args.proof_list is None else iter(args.proof_list)
    started = time.perf_counter()
    deadline = started + args.duration
    await asyncio.gather(
        *(
            _worker(args.port, request, deadline, latencies, statuses, proofs)
            for _ in range(args.connections)
        )
    )
    elapsed = time.perf_counter() - started
    ordered = sorted(latencies)
    return {
        "proofs_ran_out": proofs is not None and next(proofs, None) is None,
        "requests": len(latencies),
        "seconds": elapsed,
        "statuses": statuses,
        "p50": _percentile(ordered, 0.50),
        "p99": _percentile(ordered, 0.99),
    }


def main() -> None:
    """Parse arguments, run the load, print the JSON result."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.load")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--path", default="/")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--header", action="append", default=[])
    parser.add_argument("--proofs", help="file of DPoP proofs, one per line, each used once")
    args = parser.parse_args()
    args.proof_list = None
    if args.proofs:
        with open(args.proofs, "rb") as handle:
            args.proof_list = handle.read().split()
    if not 0 < args.duration <= 600 or not 0 < args.connections <= 1000:
        parser.error("duration must be in (0, 600] seconds and connections in (0, 1000]")
    try:
        import uvloop
    except ImportError:
        result = asyncio.run(_run(args))
    else:
        result = uvloop.run(_run(args))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
