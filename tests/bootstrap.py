"""Install what a suite needs on first use, so ``python -m pytest`` passes on a fresh clone.

CI runs every ``.ci/install-*.sh`` before the tests; a developer who only ran
the README's two commands has not.  A session fixture calls :func:`ensure`,
which runs the idempotent install script when its check says something is
missing, and fails the test with the script's output when it cannot install
(never skips: a missing dependency must not look like a pass).
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

CI_DIR = Path(__file__).resolve().parents[1] / ".ci"
INSTALL_TIMEOUT = 900.0  # apt-get or npm ci on a slow shared machine


def ensure(what: str, is_installed: Callable[[], bool], script: Path) -> None:
    """Run ``script`` with bash unless ``is_installed()``; fail the test if it still is not."""
    if is_installed():
        return
    try:
        result = subprocess.run(  # noqa: S603 - our own install script, run by bash
            ["bash", str(script)],  # noqa: S607
            capture_output=True,
            text=True,
            timeout=INSTALL_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        pytest.fail(f"{what} is missing and {script.name} could not run: {exc}", pytrace=False)
    if result.returncode != 0 or not is_installed():
        pytest.fail(
            f"{what} is missing and `bash {script}` could not install it "
            f"(exit {result.returncode}). Run it yourself (it may need root for apt-get) and "
            f"look at its output:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}",
            pytrace=False,
        )
