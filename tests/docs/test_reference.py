"""The API reference covers every public name, and the architecture page matches the package."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

from .blocks import DOCS, ROOT

PACKAGE = ROOT / "okta_bearer"
#: Each public module and its reference page.
REFERENCE = {
    "okta_bearer": "okta_bearer.md",
    "okta_bearer.fastapi": "fastapi.md",
    "okta_bearer.flask": "flask.md",
    "okta_bearer.middleware": "middleware.md",
    "okta_bearer.testing": "testing.md",
    "okta_bearer.mcp": "mcp.md",
    "okta_bearer.metrics": "metrics.md",
    "okta_bearer.redis_store": "redis_store.md",
    "okta_bearer.dev_issuer": "dev_issuer.md",
    "okta_bearer.django": "django.md",
    "okta_bearer.django.drf": "django_drf.md",
}


def documented(page: Path, module: str) -> list[str]:
    """The names a reference page renders with ``::: module.Name``, in order."""
    return re.findall(rf"^::: {re.escape(module)}\.(\w+)\s*$", page.read_text(), flags=re.M)


@pytest.mark.parametrize("module", sorted(REFERENCE))
def test_reference_page_renders_every_public_name(module: str) -> None:
    """A module's reference page has one ::: entry per name of its __all__, and no other."""
    names = importlib.import_module(module).__all__
    assert sorted(documented(DOCS / "api" / REFERENCE[module], module)) == sorted(names)


def test_every_reference_page_is_in_the_navigation() -> None:
    """Each API page is reachable from the site's navigation."""
    nav = (ROOT / "mkdocs.yml").read_text()
    assert sorted(p.name for p in (DOCS / "api").glob("*.md")) == sorted(REFERENCE.values())
    for page in REFERENCE.values():
        assert f"api/{page}" in nav


def architecture_rows() -> dict[str, str]:
    """The architecture table: first cell (a folder, or "top level") to the second cell."""
    rows = {}
    for line in (DOCS / "architecture.md").read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("|") and len(cells) == 2 and not set(cells[0]) <= {"-", " "}:
            rows[cells[0].strip("`")] = cells[1]
    rows.pop("folder / module", None)
    return rows


def test_architecture_names_only_modules_that_exist() -> None:
    """Every module a row names is a file in that row's folder (or the top level)."""
    rows = architecture_rows()
    assert "top level" in rows
    for folder, text in rows.items():
        where = PACKAGE if folder == "top level" else PACKAGE / folder
        assert where.is_dir(), folder
        for module in re.findall(r"`(\w+\.py)`", text):
            assert (where / module).is_file(), f"{folder}: {module}"


def test_architecture_names_every_package_folder() -> None:
    """Every folder of the package with an __init__.py has its row, and no row names a ghost."""
    rows = architecture_rows()
    folders = {f"{p.parent.name}/" for p in PACKAGE.glob("*/__init__.py")}
    assert folders == {name for name in rows if name.endswith("/")}
