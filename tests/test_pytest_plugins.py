"""The suite starts next to pytest plugins a developer may have installed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_suite_starts_with_pytest_asyncio_installed(tmp_path: Path) -> None:
    """With pytest-asyncio importable, the suite still starts and passes (its start-up warning)."""
    target = tmp_path / "site"
    pip = [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target)]
    install = subprocess.run(  # noqa: S603 - pip installing one named package from the registry
        [*pip, "pytest-asyncio>=0.24"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert install.returncode == 0, install.stderr
    env = {**os.environ, "PYTHONPATH": str(target)}
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "tests/test_rfc6750.py", "-p", "no:cacheprovider"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    # The plugin really loaded (pytest names it in the header), and every test ran.
    assert "asyncio-" in run.stdout, run.stdout + run.stderr
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert " passed" in run.stdout
