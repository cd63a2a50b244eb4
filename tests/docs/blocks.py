"""Read the Python blocks of a Markdown page and run them the way a reader would.

The convention every page follows (README.md, SECURITY.md, BENCHMARKS.md and
docs/**/*.md, whoever wrote them):

* The ```python blocks of one page run in order, in one fresh namespace, with a
  fresh scratch directory as the current directory.  Async code runs inside the
  block (``asyncio.run(main())``).
* A block whose first line is ``# name.py`` is a file the reader saves: it is
  written into the scratch directory (which is on ``sys.path``), then imported
  as module ``name``, so later blocks can ``from name import ...``.
* When a page saved any ``test_*.py``, ``python -m pytest`` runs in the scratch
  directory afterwards, as the reader would, and must pass.
* A block immediately preceded by the line ``<!-- fragment -->`` is only
  compiled (a syntax check), never run: for snippets that need what the page
  cannot provide (a real Okta org, a secret, an app of your own).
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import os
import re
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
FRAGMENT = "<!-- fragment -->"
_FENCE = re.compile(
    r"^(?P<indent>[ \t]*)```python[^\n]*\n(?P<body>.*?)^(?P=indent)```", re.M | re.S
)
_FILE_NAME = re.compile(r"#\s*(?P<name>[A-Za-z_][A-Za-z0-9_]*)\.py\s*$")


@dataclass(frozen=True)
class Block:
    """One ```python block: its source, where it starts, and how it is to be run."""

    page: Path
    line: int
    source: str
    fragment: bool

    @property
    def file_name(self) -> str | None:
        """``name`` when the block's first line is ``# name.py`` (a file to save)."""
        first = self.source.split("\n", 1)[0]
        match = _FILE_NAME.fullmatch(first.strip())
        return match.group("name") if match else None

    @property
    def label(self) -> str:
        """``page.md:line``, for tracebacks and test ids."""
        return f"{self.page.relative_to(ROOT)}:{self.line}"


def pages() -> list[Path]:
    """README.md, the files the site includes (SECURITY.md, BENCHMARKS.md) and docs/**/*.md."""
    included = [ROOT / "README.md", ROOT / "SECURITY.md", ROOT / "BENCHMARKS.md"]
    return [*included, *sorted(DOCS.rglob("*.md"))]


def blocks(page: Path) -> list[Block]:
    """The page's ```python blocks, in order, each marked fragment or not."""
    text = page.read_text()
    found = []
    for match in _FENCE.finditer(text):
        before = text[: match.start()].rstrip("\n").rsplit("\n", 1)[-1]
        found.append(
            Block(
                page=page,
                line=text.count("\n", 0, match.start()) + 1,
                source=textwrap.dedent(match.group("body")),
                fragment=before.strip() == FRAGMENT,
            )
        )
    return found


@contextlib.contextmanager
def _scratch(directory: Path) -> Iterator[None]:
    """Work in ``directory`` with it first on ``sys.path``; forget its modules afterwards."""
    before = set(sys.modules)
    cwd = Path.cwd()
    # A page may configure logging (a handler, a level); the next test must not inherit it.
    loggers = [logging.getLogger(), logging.getLogger("okta_bearer")]
    saved = [(logger, list(logger.handlers), logger.level) for logger in loggers]
    # Nor its environment (a Django page sets DJANGO_SETTINGS_MODULE, as manage.py does).
    environ = dict(os.environ)
    sys.path.insert(0, str(directory))
    os.chdir(directory)
    try:
        yield
    finally:
        for logger, handlers, level in saved:
            logger.handlers[:] = handlers
            logger.setLevel(level)
        os.chdir(cwd)
        os.environ.clear()
        os.environ.update(environ)
        sys.path.remove(str(directory))
        for name in set(sys.modules) - before:
            module = sys.modules[name]
            if getattr(module, "__file__", "") and str(directory) in str(module.__file__):
                del sys.modules[name]
        importlib.invalidate_caches()


@dataclass
class Ran:
    """What a page left behind: its namespace, and the modules of the files it saved."""

    namespace: dict[str, Any]
    files: dict[str, ModuleType]


def run_page(page: Path, directory: Path) -> Ran:
    """Run the page's blocks in ``directory`` as the convention says."""
    namespace: dict[str, Any] = {"__name__": "__main__"}
    files: dict[str, ModuleType] = {}
    saved_tests = False
    with _scratch(directory):
        for block in blocks(page):
            code = compile(block.source, block.label, "exec")
            if block.fragment:
                continue
            name = block.file_name
            if name is None:
                exec(code, namespace)  # noqa: S102 - our own documentation
                continue
            (directory / f"{name}.py").write_text(block.source)
            importlib.invalidate_caches()
            files[name] = importlib.import_module(name)
            saved_tests = saved_tests or name.startswith("test_")
    if saved_tests:
        run_pytest(directory)
    return Ran(namespace, files)


def run_pytest(directory: Path) -> None:
    """``python -m pytest`` in ``directory``, as the reader runs it; fails with its output."""
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=directory,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
