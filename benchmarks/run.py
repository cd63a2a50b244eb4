"""Run the okta_bearer benchmarks and print one report: ``python -m benchmarks.run``.

Sections (all by default): ``verify`` (per-token cost vs the floor and the
peers), ``instructions`` (the same, counted by callgrind: noise-free),
``asgi`` (in-process requests per second), ``http`` (uvicorn on 127.0.0.1
under wrk), ``keys`` (fetch counts on a cold start and a random-kid flood).
``--quick`` runs fewer rounds for a smoke check; ``--profile`` prints where a
fresh-token verify spends its time instead.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time

from ._common import CLOCK_NAMES, clock_name, machine_facts, use_clock

SECTIONS = ("verify", "instructions", "asgi", "http", "keys")


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
    if "keys" in args.sections:
        from .keyfetch import run as keyfetch

        print("## Key fetching")
        print()
        print(await keyfetch())
    print(f"(total {time.perf_counter() - started:.0f} s)")


def main(argv: list[str] | None = None) -> None:
    """Entry point: parse arguments and run the chosen sections."""
    args = _parse(argv)
    asyncio.run(_main(args))


if __name__ == "__main__":
    main()
