"""The timing harness shared by every section: interleaved rounds, medians, a plain-text table.

Contenders of one section run round-robin inside one process: each round runs
one batch of every contender (in an order rotated each round), so a burst of
machine noise lands on all of them rather than on whichever ran at that moment.
A contender's figure is the median over rounds of its per-call mean in a batch.

Batches are timed with the process's CPU time by default (``time.process_time``:
all threads, so work handed to a threadpool counts).  On an idle machine it
equals wall time for these CPU-bound loops; on a shared one it leaves out the
time the process waited for a CPU while other jobs ran, which is noise here.
``--clock wall`` switches to ``time.perf_counter``.
"""

from __future__ import annotations

import gc
import os
import platform
import statistics
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

#: The issuer and audience every benchmark mints and verifies for.
ISSUER = "https://okta.example.test/oauth2/default"
AUDIENCE = "api://default"

#: ``batch(n)`` runs the contender ``n`` times and returns the seconds it took.
Batch = Callable[[int], Awaitable[float]]

_clock: Callable[[], float] = time.process_time
CLOCK_NAMES = {"cpu": time.process_time, "wall": time.perf_counter}


def use_clock(name: str) -> None:
    """Time batches with ``cpu`` (process CPU time, the default) or ``wall`` time."""
    global _clock
    _clock = CLOCK_NAMES[name]


def clock() -> float:
    """The current reading of the chosen clock, in seconds."""
    return _clock()


def clock_name() -> str:
    """How batches are timed, for the report."""
    if _clock is time.process_time:
        return "process CPU time (time.process_time)"
    return "wall time (time.perf_counter)"


PACKAGES = (
    "okta-bearer",
    "PyJWT",
    "cryptography",
    "cachetools",
    "starlette",
    "fastapi",
    "httpx",
    "uvicorn",
    "uvloop",
    "httptools",
    "okta-jwt-verifier",
    "joserfc",
    "Authlib",
    "aiohttp",
)


def machine_facts() -> list[str]:
    """Lines describing the machine, the interpreter and the library versions."""
    versions = []
    for name in PACKAGES:
        try:
            versions.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            versions.append(f"{name} (not installed)")
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return [
        f"CPUs: {os.cpu_count()} ({cpu})",
        f"Python: {sys.version.split()[0]} ({platform.python_implementation()}), "
        f"{platform.system()} {platform.release()}",
        "Libraries: " + ", ".join(versions),
    ]


class Timed:
    """A contender's batch that also keeps wall-clock seconds per call, next to CPU time."""

    def __init__(
        self,
        prepare: Callable[[int], Any],
        run: Callable[[list[Any]], Awaitable[None]],
    ) -> None:
        self.prepare = prepare
        self.run = run
        self.wall: list[float] = []

    async def batch(self, n: int) -> float:
        """Prepare ``n`` inputs untimed (``prepare`` may be async), then time running them.

        Returns the chosen clock's seconds; wall seconds per call are kept in :attr:`wall`.
        """
        inputs = self.prepare(n)
        if isinstance(inputs, Awaitable):
            inputs = await inputs
        gc.collect()  # the preparation's garbage is not the contender's
        wall = time.perf_counter()
        start = clock()
        await self.run(inputs)
        elapsed = clock() - start
        self.wall.append((time.perf_counter() - wall) / n)
        return elapsed

    @property
    def wall_median(self) -> float:
        """Median wall seconds per call over the timed rounds (the warm-up batch left out)."""
        return statistics.median(self.wall[1:]) if len(self.wall) > 1 else float("nan")


@dataclass
class Contender:
    """One row of a section: a name and a batch runner (``None`` when not applicable)."""

    name: str
    batch: Batch | None
    note: str = ""
    samples: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        """Median seconds per call over the rounds (NaN when not run)."""
        return statistics.median(self.samples) if self.samples else float("nan")


async def interleave(
    contenders: Sequence[Contender], *, rounds: int, calls: int, progress: str = ""
) -> None:
    """Run ``rounds`` round-robin rounds of ``calls`` calls per contender; record per-call times.

    One warm-up batch per contender is run first and discarded.  Garbage is
    collected between batches (outside the timed region), not inside them.
    """
    live = [c for c in contenders if c.batch is not None]
    for contender in live:
        assert contender.batch is not None
        await contender.batch(max(1, calls // 4))
    for index in range(rounds):
        shift = index % len(live)
        for contender in live[shift:] + live[:shift]:
            assert contender.batch is not None
            gc.collect()
            elapsed = await contender.batch(calls)
            contender.samples.append(elapsed / calls)
        if progress:
            print(
                f"\r  {progress}: round {index + 1}/{rounds}", end="", file=sys.stderr, flush=True
            )
    if progress:
        print(file=sys.stderr)


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A Markdown table with columns padded for reading in a terminal."""
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(cell)) for w, cell in zip(widths, row, strict=True)]

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(headers), rule, *(line(r) for r in rows)])


def us(seconds: float) -> str:
    """Seconds as microseconds with one decimal."""
    return "n/a" if seconds != seconds else f"{seconds * 1e6:.1f}"


def ratio(value: float, base: float) -> str:
    """``value / base`` as ``1.23x``."""
    if value != value or base != base or base == 0:
        return "n/a"
    return f"{value / base:.2f}x"


def verdict(ok: bool) -> str:
    """A target's outcome, spelled plainly."""
    return "MET" if ok else "NOT MET"
