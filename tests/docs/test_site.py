"""The site builds with ``mkdocs build --strict``: a broken link or a missing reference fails."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from .blocks import ROOT


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The site, built once for the module with --strict (warnings are errors)."""
    out = tmp_path_factory.mktemp("site")
    result = subprocess.run(  # noqa: S603 - our own fixed command
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={"NO_MKDOCS_2_WARNING": "1", "PATH": "", "HOME": str(out)},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return out


def test_strict_build_succeeds(site: Path) -> None:
    """mkdocs build --strict exits 0 and writes the home page."""
    assert (site / "index.html").is_file()


def test_security_and_benchmarks_are_included_not_copied(site: Path) -> None:
    """The security and benchmark pages render SECURITY.md and BENCHMARKS.md themselves."""
    for page, source in (("security", "SECURITY.md"), ("benchmarks", "BENCHMARKS.md")):
        html = (site / page / "index.html").read_text()
        first = next(line for line in (ROOT / source).read_text().splitlines() if line.strip())
        assert re.sub(r"^#+ ", "", first) in html
        assert (ROOT / "docs" / f"{page}.md").read_text().count("\n") < 5


def test_api_reference_renders_docstrings(site: Path) -> None:
    """A reference page carries the public object's docstring, not only its name."""
    html = (site / "api" / "testing" / "index.html").read_text()
    assert "An Okta custom authorization server, in memory." in html
