"""Every ```python block of README.md and docs/**/*.md runs (or, marked a fragment, compiles).

The convention, for every page whoever writes it (the runner is tests/docs/blocks.py):

* The ```python blocks of one page run in order in one fresh namespace, in a
  fresh scratch directory that is the current directory.  Async code runs
  inside the block, through ``asyncio.run(...)``.
* A block whose first line is ``# name.py`` is a file the reader saves: it is
  written into the scratch directory (on ``sys.path``) and imported as
  ``name``, so later blocks can import it.  When a page saved a
  ``test_*.py``, ``python -m pytest`` then runs there and must pass.
* A block immediately preceded by the line ``<!-- fragment -->`` is only
  compiled (syntax-checked), not run: for code that needs what no test has
  (your Okta org, your own app).
* Pages that need servers (a dev issuer, uvicorn) get them on free loopback
  ports in tests/docs/test_guides.py, which follows their shell steps.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from .blocks import ROOT, blocks, pages, run_page

PAGES = [page for page in pages() if blocks(page)]


@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(ROOT)) for p in PAGES])
def test_page_blocks_run_in_order(page: Path, tmp_path: Path) -> None:
    """The page's Python blocks run top to bottom in one namespace without an error."""
    run_page(page, tmp_path)


def test_every_guide_has_code_that_runs() -> None:
    """Each guide holds at least one block that is run, not only fragments."""
    guides = sorted((ROOT / "docs" / "guides").glob("*.md"))
    assert guides
    idle = [g.name for g in guides if not any(not b.fragment for b in blocks(g))]
    assert idle == []


def test_python_is_always_fenced_as_python() -> None:
    """No Python hides from the runner behind another fence name (py, python3, pycon, ipython)."""
    for page in pages():
        languages = re.findall(r"^[ \t]*```+[ \t]*([\w+-]*)", page.read_text(), flags=re.M)
        hidden = {lang for lang in languages if "py" in lang.lower() and lang != "python"}
        assert not hidden, f"{page}: {hidden}"


def test_fragments_are_marked_on_the_line_just_before() -> None:
    """A fragment marker is always followed directly by a Python block (no stray markers)."""
    for page in pages():
        lines = page.read_text().splitlines()
        for number, line in enumerate(lines):
            if line.strip() == "<!-- fragment -->":
                following = lines[number + 1].strip() if number + 1 < len(lines) else ""
                assert following.startswith("```python"), f"{page}:{number + 1}"
