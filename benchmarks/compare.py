"""Compare two benchmark reports row by row: ``python -m benchmarks.compare OLD.md NEW.md``.

Reads every Markdown table of both files (BENCHMARKS.md or a saved
``python -m benchmarks.run`` report), matches rows by table heading and first
cell, and prints each shared row's change in its first figure column:
``us/...`` and ``instructions/...`` (lower is better), ``req/s`` (higher is
better).  A row is flagged when it got worse by more than ``--threshold``
(5 % by default, issue 8's limit).  Rows present in only one file are listed,
so a renamed row is not silently dropped.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

#: Column names whose figure should not grow / should not shrink.
_LOWER_BETTER = re.compile(r"^(us/|instructions/)")
_HIGHER_BETTER = re.compile(r"^req/s$")


def tables(text: str) -> dict[tuple[str, str], tuple[str, float, bool]]:
    """``{(heading, row name): (column, value, lower_is_better)}`` for every figure row."""
    rows: dict[tuple[str, str], tuple[str, float, bool]] = {}
    heading = ""
    header: list[str] | None = None
    for line in text.splitlines():
        if line.startswith("#"):
            heading = line.lstrip("#").strip()
            header = None
            continue
        if not line.startswith("|"):
            header = None
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if header is None:
            header = cells
            continue
        if set(line) <= set("|- "):
            continue
        for index, column in enumerate(header[1:], start=1):
            lower = bool(_LOWER_BETTER.match(column))
            if not (lower or _HIGHER_BETTER.match(column)) or index >= len(cells):
                continue
            try:
                value = float(cells[index].replace(",", ""))
            except ValueError:
                break
            rows[(heading, cells[0])] = (column, value, lower)
            break
    return rows


def main(argv: list[str] | None = None) -> int:
    """Print the comparison; exit 1 when any row got worse by more than the threshold."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.compare", description=__doc__)
    parser.add_argument("old", type=Path)
    parser.add_argument("new", type=Path)
    parser.add_argument("--threshold", type=float, default=5.0, help="percent (default 5)")
    args = parser.parse_args(argv)
    old = tables(args.old.read_text(encoding="utf-8"))
    new = tables(args.new.read_text(encoding="utf-8"))
    worse = 0
    print("| section | row | column | old | new | change | verdict |")
    print("|---|---|---|---|---|---|---|")
    for key in [k for k in old if k in new]:
        column, before, lower = old[key]
        _, after, _ = new[key]
        change = (after - before) / before * 100 if before else float("nan")
        slower = change if lower else -change
        flag = "worse by more than the threshold" if slower > args.threshold else ""
        worse += bool(flag)
        print(
            f"| {key[0]} | {key[1]} | {column} | {before:,.1f} | {after:,.1f} | "
            f"{change:+.1f} % | {flag} |"
        )
    only_old = [k for k in old if k not in new]
    only_new = [k for k in new if k not in old]
    if only_old:
        print("\nOnly in the old report: " + "; ".join(f"{h} / {r}" for h, r in only_old))
    if only_new:
        print("\nOnly in the new report: " + "; ".join(f"{h} / {r}" for h, r in only_new))
    return 1 if worse else 0


if __name__ == "__main__":
    sys.exit(main())
