"""The suites' self-installing fixtures (tests/bootstrap.py) run the script only when needed."""

from __future__ import annotations

from pathlib import Path

import pytest

from .bootstrap import ensure


def script(tmp_path: Path, body: str) -> Path:
    """A bash script with ``body`` that records each run in ``runs.log``."""
    path = tmp_path / "install-thing.sh"
    path.write_text(f'echo run >> "{tmp_path}/runs.log"\n{body}\n')
    return path


def runs(tmp_path: Path) -> int:
    """How many times the script ran."""
    log = tmp_path / "runs.log"
    return len(log.read_text().splitlines()) if log.exists() else 0


def test_installed_means_no_run(tmp_path: Path) -> None:
    """When the check passes, the install script is not run."""
    ensure("thing", lambda: True, script(tmp_path, "exit 1"))
    assert runs(tmp_path) == 0


def test_missing_runs_the_script_once(tmp_path: Path) -> None:
    """When the check fails, the script runs, and a passing check afterwards is success."""
    marker = tmp_path / "installed"
    ensure("thing", marker.exists, script(tmp_path, f'touch "{marker}"'))
    assert runs(tmp_path) == 1
    assert marker.exists()


def test_failed_install_fails_with_the_output(tmp_path: Path) -> None:
    """A script that fails makes the test fail (not skip), showing the script's output."""
    with pytest.raises(pytest.fail.Exception, match="could not install") as info:
        ensure("thing", lambda: False, script(tmp_path, "echo no-root-here >&2; exit 100"))
    assert "no-root-here" in str(info.value)
    assert "exit 100" in str(info.value)


def test_script_that_installs_nothing_fails(tmp_path: Path) -> None:
    """A script that exits 0 while the check still fails is a failure too."""
    with pytest.raises(pytest.fail.Exception, match="thing is missing"):
        ensure("thing", lambda: False, script(tmp_path, "exit 0"))
