"""Run the okta_bearer benchmarks and print one report: ``python -m benchmarks.run``.

Sections (all by default): ``verify`` (per-token cost vs the floor and the
peers), ``asgi`` (in-process requests per second), ``http`` (uvicorn on
127.0.0.1 under wrk), ``keys`` (fetch counts on a cold start and a random-kid
flood).  ``--quick`` runs fewer rounds for a smoke check; ``--profile`` prints
where a fresh-token verify spends its time instead.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time

from ._common import machine_facts

SECTIONS = ("verify", "asgi", "http", "keys")


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
    args = parser.parse_args(argv)
    args.sections = [s.strip() for s in args.sections.split(",") if s.strip()]
    unknown = set(args.sections) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown sections: {', '.join(sorted(unknown))}")
    return args


async def _main(args: argparse.Namespace) -> None:
    started = time.perf_counter()
    print("# okta_bearer benchmarks")
    print()
    print(f"Command: python -m benchmarks.run {' '.join(sys.argv[1:])}".rstrip())
    for line in machine_facts():
        print(f"- {line}")
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
    print(f"(total {time.perf_counter() - started:.0f} s)")


def main(argv: list[str] | None = None) -> None:
    """Entry point: parse arguments and run the chosen sections."""
    args = _parse(argv)
    asyncio.run(_main(args))


if __name__ == "__main__":
    main()
