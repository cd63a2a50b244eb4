"""A bounded HTTP/1.1 load generator for loopback, used when ``wrk`` is not installed.

``python -m benchmarks.load --port P --path /api/items --connections 32
--duration 5 [--header 'Authorization: Bearer ...']`` keeps that many
keep-alive connections busy for that many seconds, then prints one JSON line:
requests, seconds, statuses and latency percentiles.  It only ever connects to
127.0.0.1 and stops by itself.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time


async def _worker(
    port: int, request: bytes, deadline: float, latencies: list[float], statuses: dict[int, int]
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while time.perf_counter() < deadline:
            start = time.perf_counter()
            writer.write(request)
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
    started = time.perf_counter()
    deadline = started + args.duration
    await asyncio.gather(
        *(
            _worker(args.port, request, deadline, latencies, statuses)
            for _ in range(args.connections)
        )
    )
    elapsed = time.perf_counter() - started
    ordered = sorted(latencies)
    return {
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
    args = parser.parse_args()
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
