"""What a flood of random opaque tokens costs the issuer: introspection calls a second.

Run: ``python -m benchmarks.introspection_flood [--seconds 5] [--rate 50] [--no-redis]``.

An attacker with no credential sends random tokens as fast as it can; each is
new, so nothing is cached and each would cost one introspection.  The issuer
here is the testing kit's ``IntrospectionServer`` behind an in-memory
transport that takes 5 ms per answer (so calls overlap as they would over a
network); the clock is real.  Cases:

* one verifier (one worker) with the default budget (``max_rate`` calls a second);
* four verifiers sharing a real redis-server (four workers of one API): the
  budget is fleet-wide, so the four together stay at ``max_rate``;
* four verifiers without a shared store: each has its own budget (4 x ``max_rate``).

Each case floods from 64 concurrent clients per worker for ``--seconds``, counts the
calls that reached the issuer and the requests refused with 503 without a call,
then presents a valid token (after the one-second window turns) and checks it
is accepted.  Nothing is asserted: the figures are printed for BENCHMARKS.md,
and a case whose rate exceeds its budget (plus one second's burst) is marked.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import secrets
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx

from okta_bearer import BearerError, IntrospectionUnavailable, IntrospectionVerifier
from okta_bearer._store.memory import Store
from okta_bearer.testing import IntrospectionServer, LocalIssuer

from ._common import table, verdict
from .verify import AUDIENCE, ISSUER

DELAY = 0.005
CLIENTS = 64


def _transport(server: IntrospectionServer) -> httpx.MockTransport:
    async def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/v1/introspect"):
            await asyncio.sleep(DELAY)
        return server.handler(request)

    return httpx.MockTransport(handler)


async def _flood(verifier: IntrospectionVerifier, until: float, tally: dict[str, int]) -> None:
    while time.monotonic() < until:
        try:
            await verifier.verify(secrets.token_urlsafe(32))
        except IntrospectionUnavailable:
            tally["503"] += 1
        except BearerError:
            tally["401"] += 1


@contextlib.asynccontextmanager
async def _workers(
    server: IntrospectionServer, count: int, rate: float, store: Store | None
) -> AsyncIterator[list[IntrospectionVerifier]]:
    options: dict[str, Any] = {"transport": _transport(server), "max_rate": rate}
    if store is not None:
        options["store"] = store
    workers = [server.verifier(**options) for _ in range(count)]
    try:
        for worker in workers:  # discovery before the flood
            await worker.verify(server.mint_opaque(exp=int(time.time()) + 3600))
        await asyncio.sleep(1.0)  # a fresh budget window
        yield workers
    finally:
        for worker in workers:
            await worker.aclose()


async def _case(
    server: IntrospectionServer, count: int, rate: float, store: Store | None, seconds: float
) -> dict[str, Any]:
    async with _workers(server, count, rate, store) as workers:
        tally = {"401": 0, "503": 0}
        before = server.count("/v1/introspect")
        started = time.monotonic()
        until = started + seconds
        await asyncio.gather(*(_flood(w, until, tally) for w in workers for _ in range(CLIENTS)))
        elapsed = time.monotonic() - started
        calls = server.count("/v1/introspect") - before
        await asyncio.sleep(1.0)  # the window turns, as it does for the next real user
        valid = server.mint_opaque(exp=int(time.time()) + 3600)
        try:
            await workers[0].verify(valid)
            accepted = True
        except BearerError:
            accepted = False
    budget = rate if store is not None else rate * count
    return {
        "requests": tally["401"] + tally["503"],
        "calls": calls,
        "per_second": calls / elapsed,
        "refused": tally["503"],
        "budget": budget,
        "within": calls <= budget * (elapsed + 1) + count,  # one burst (and window) of slack
        "accepted": accepted,
    }


async def run(*, seconds: float, rate: float, redis_url: str | None) -> str:
    """Run the flood cases and return the report."""
    from okta_bearer.redis_store import RedisStore

    server = IntrospectionServer(LocalIssuer(ISSUER, AUDIENCE))
    cases: list[tuple[str, int, Store | None]] = [("1 worker", 1, None)]
    redis_store = None if redis_url is None else RedisStore(redis_url, timeout=2.0)
    if redis_store is not None:
        cases.append(("4 workers sharing Redis (fleet-wide budget)", 4, redis_store))
    cases.append(("4 workers, no shared store (a budget each)", 4, None))
    rows = []
    try:
        for label, count, store in cases:
            result = await _case(server, count, rate, store, seconds)
            rows.append(
                [
                    label,
                    str(result["requests"]),
                    str(result["calls"]),
                    f"{result['per_second']:.1f}",
                    f"{result['budget']:.0f}",
                    str(result["refused"]),
                    "yes" if result["accepted"] else "NO",
                    verdict(result["within"] and result["accepted"]),
                ]
            )
    finally:
        if redis_store is not None:
            await redis_store.aclose()
    header = [
        "case",
        "flood requests",
        "calls at the issuer",
        "calls/s",
        "budget calls/s",
        "503 without a call",
        "valid token after",
        "",
    ]
    return "\n".join(
        [
            f"A flood of random opaque tokens for {seconds:g} s from {CLIENTS} concurrent "
            f"clients per worker, max_rate={rate:g}, the issuer taking {DELAY * 1e3:.0f} ms:",
            "",
            table(header, rows),
            "",
        ]
    )


def main(argv: list[str] | None = None) -> None:
    """Command line: ``python -m benchmarks.introspection_flood``."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.introspection_flood")
    parser.add_argument("--seconds", type=float, default=5.0, help="length of each flood")
    parser.add_argument("--rate", type=float, default=50.0, help="max_rate of each verifier")
    parser.add_argument("--no-redis", action="store_true", help="skip the shared-store case")
    args = parser.parse_args(argv)
    if args.no_redis:
        print(asyncio.run(run(seconds=args.seconds, rate=args.rate, redis_url=None)))
        return
    from ._redis import redis_server

    with redis_server() as url:
        print(asyncio.run(run(seconds=args.seconds, rate=args.rate, redis_url=url)))


if __name__ == "__main__":
    main()
