"""The project's own promises about its code: ruff-clean, formatted, and mypy --strict clean."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our own tools on our own tree
        args, cwd=ROOT, capture_output=True, text=True, timeout=600, check=False
    )


def tool(name: str) -> str:
    found = shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)
    assert found, f"{name} is part of the [test] extra; pip install -e '.[test]'"
    return found


def test_ruff_lint() -> None:
    """ruff check finds nothing anywhere in the repository."""
    result = run(tool("ruff"), "check", ".", "--output-format", "concise")
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_format() -> None:
    """Every Python file (and the README's code blocks) is formatted."""
    result = run(tool("ruff"), "format", "--check", ".")
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_strict() -> None:
    """The package, its tests and the examples type-check under mypy --strict."""
    result = run(sys.executable, "-m", "mypy", "okta_bearer", "tests", "examples")
    assert result.returncode == 0, result.stdout + result.stderr
