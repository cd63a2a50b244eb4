"""Run the okta_bearer benchmarks and print one report: ``python -m benchmarks.run``.

Sections (all by default): ``verify`` (per-token cost vs the floor and the
peers), ``instructions`` (the same, counted by callgrind: noise-free),
``asgi`` (in-process requests per second), ``http`` (uvicorn on 127.0.0.1
under wrk), ``keys`` (fetch counts on a cold start and a random-kid flood),
``dpop`` (the extra cost of a DPoP request, in-memory and Redis replay store),
``introspection`` (cached, shared and cold answers; single-flight) and
``fleet`` (four verifiers starting cold, with and without a shared store),
``sync`` (``verify_sync`` against the floor, PyJWKClient and authlib's
resource protector; gunicorn's side is ``python -m benchmarks.wsgi``),
``django`` (a Django view and a DRF view under gunicorn, protected and not:
``python -m benchmarks.django_wsgi``).
The last three start a redis-server on loopback when one is installed.
``--quick`` runs fewer rounds for a smoke check; ``--profile`` prints where a
fresh-token verify spends its time instead.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
import time
from collections.abc import Iterator

from ._common import CLOCK_NAMES, clock_name, machine_facts, use_clock

SECTIONS = (
    "verify",
    "instructions",
    "asgi",
    "http",
    "keys",
    "dpop",
    "introspection",
    "fleet",
    "sync",
    "django",
)
#: Sections that want a real redis-server (started here, on loopback).
REDIS_SECTIONS = ("dpop", "introspection", "fleet")


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__)
    parser.add_argument(
        "--sections",
        default=",".join(SECTIONS),
        help=f"comma-separated subset of {', '.join(SECTIONS)} (default: all)",
    )
    parser.add_argument("--quick", action="store_true", help="fewer rounds: a smoke run")
    parser.add_argument("--rounds", type=int, help="interleaved rounds per section")
    parser.add_argument("--profile", action="store_true", help="profile a fresh-token verify")
    parser.add_argument(
        "--clock",
        choices=sorted(CLOCK_NAMES),
        default="cpu",
        help="time in-process batches by process CPU time (default) or wall time",
    )
    args = parser.parse_args(argv)
    args.sections = [s.strip() for s in args.sections.split(",") if s.strip()]
    unknown = set(args.sections) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown sections: {', '.join(sorted(unknown))}")
    return args


def _load() -> str:
    try:
        return ", ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "unknown"


async def _main(args: argparse.Namespace) -> None:
    started = time.perf_counter()
    print("# okta_bearer benchmarks")
    print()
    print(f"Command: python -m benchmarks.run {' '.join(sys.argv[1:])}".rstrip())
    use_clock(args.clock)
    for line in machine_facts():
        print(f"- {line}")
    print(f"- In-process batches timed by {clock_name()}; load average at start: {_load()}")
    print()
    if args.profile:
        from .profiling import run as profile

        await profile()
        return
    if "verify" in args.sections:
        from .verify import run as verify

        print("## Per-token verification")
        print()
        rounds = args.rounds or (6 if args.quick else 30)
        result = await verify(rounds=rounds, calls=64 if args.quick else 200)
        print(result.text)
    if "sync" in args.sections:
        from .sync_verify import run as sync_verify

        print("## The sync side: verify_sync")
        print()
        rounds = args.rounds or (6 if args.quick else 30)
        print(await sync_verify(rounds=rounds, calls=64 if args.quick else 200))
    if "instructions" in args.sections:
        from .instructions import run as instructions

        print("## Instructions per verification (callgrind)")
        print()
        print(instructions(calls=50 if args.quick else 200))
    if "asgi" in args.sections:
        from .asgi import run as asgi

        print("## In-process ASGI")
        print()
        rounds = args.rounds or (6 if args.quick else 30)
        print(await asgi(rounds=rounds, calls=100 if args.quick else 300))
    if "http" in args.sections:
        from .over_http import run as over_http

        print("## Over HTTP")
        print()
        rounds = args.rounds or (2 if args.quick else 5)
        print(over_http(rounds=min(rounds, 10), duration=2.0 if args.quick else 5.0))
    if "django" in args.sections:
        from .django_wsgi import run as django_wsgi

        print("## Django under gunicorn")
        print()
        rounds = args.rounds or (2 if args.quick else 5)
        print(django_wsgi(rounds=min(rounds, 10), duration=2.0 if args.quick else 5.0))
    if "keys" in args.sections:
        from .keyfetch import run as keyfetch

        print("## Key fetching")
        print()
        print(await keyfetch())
    with _redis(args.sections) as redis_url:
        await _store_sections(args, redis_url)
    print(f"(total {time.perf_counter() - started:.0f} s)")


@contextlib.contextmanager
def _redis(sections: list[str]) -> Iterator[str | None]:
    if not set(sections) & set(REDIS_SECTIONS):
        yield None
        return
    from ._redis import redis_server

    try:
        server = redis_server()
        url = server.__enter__()
    except (RuntimeError, OSError) as exc:
        print(f"(no redis-server: {exc}; Redis rows are left out)\n")
        yield None
        return
    try:
        yield url
    finally:
        server.__exit__(None, None, None)


async def _store_sections(args: argparse.Namespace, redis_url: str | None) -> None:
    rounds = args.rounds or (6 if args.quick else 30)
    if "dpop" in args.sections:
        from .dpop import run as dpop

        print("## DPoP: the extra cost of a DPoP request")
        print()
        print(await dpop(rounds=rounds, calls=50 if args.quick else 200, redis_url=redis_url))
    if "introspection" in args.sections:
        from .introspection import run as introspection

        print("## Introspection")
        print()
        calls = 50 if args.quick else 200
        print(await introspection(rounds=rounds, calls=calls, redis_url=redis_url))
    if "fleet" in args.sections:
        from .fleet import run as fleet

        print("## Fleet key sharing")
        print()
        print(await fleet(redis_url=redis_url))


def main(argv: list[str] | None = None) -> None:
    """Entry point: parse arguments and run the chosen sections."""
    args = _parse(argv)
    asyncio.run(_main(args))


if __name__ == "__main__":
    main()
