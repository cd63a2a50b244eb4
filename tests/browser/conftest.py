"""Browser fixtures: Debian's Chromium through Playwright's sync API, the demo, screenshots.

Playwright never downloads a browser here: it launches ``/usr/bin/chromium``,
which a session fixture installs with ``.ci/install-browser.sh`` when it is
missing.  Each journey step is kept as a screenshot in
``test-artifacts/browser/<test>/``, and a failing test adds one of every open page.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    Page,
    Playwright,
    expect,
    sync_playwright,
)

from ..bootstrap import CI_DIR, ensure
from .demo import Demo, run_demo

CHROMIUM = "/usr/bin/chromium"
# Flags a closed network needs: without the background-networking ones Chromium
# keeps trying to reach Google's hosts.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TIMEOUT_MS = 30_000
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """Keep each phase's report on the test item, so fixtures can tell a failure."""
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    setattr(item, f"report_{report.when}", report)


@pytest.fixture(scope="session")
def chromium_installed() -> None:
    """Debian's Chromium, installed by .ci/install-browser.sh if missing."""
    ensure(
        f"Debian's chromium ({CHROMIUM})",
        lambda: os.access(CHROMIUM, os.X_OK),
        CI_DIR / "install-browser.sh",
    )


@pytest.fixture(scope="module")
def playwright(chromium_installed: None) -> Iterator[Playwright]:
    """Playwright's sync API (its own event loop; the tests using it are plain functions)."""
    with sync_playwright() as pw:
        expect.set_options(timeout=TIMEOUT_MS)
        yield pw


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    """Headless Debian Chromium."""
    browser = playwright.chromium.launch(
        executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
    )
    yield browser
    browser.close()


@pytest.fixture(scope="module")
def demo() -> Iterator[Demo]:
    """`okta-bearer demo` running on free loopback ports for this module."""
    with run_demo() as running:
        yield running


class Shots:
    """Numbered full-page screenshots of one test's steps, kept as test artifacts."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.count = 0

    def __call__(self, page: Page, step: str) -> Path:
        """Save ``page`` as ``NN-step.png`` and return the file."""
        self.count += 1
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / f"{self.count:02d}-{step}.png"
        page.screenshot(path=str(path), full_page=True)
        return path


@pytest.fixture
def shots(request: pytest.FixtureRequest) -> Shots:
    """Screenshots of each step in ``test-artifacts/browser/<test>/`` (replaced on every run)."""
    folder = ARTIFACTS / "browser" / re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)
    shutil.rmtree(folder, ignore_errors=True)
    return Shots(folder)


@pytest.fixture
def context(browser: Browser, request: pytest.FixtureRequest) -> Iterator[BrowserContext]:
    """A fresh browser profile (no cookies); screenshots of its pages if the test fails."""
    context = browser.new_context()
    context.set_default_timeout(TIMEOUT_MS)
    yield context
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed:
        ARTIFACTS.mkdir(exist_ok=True)
        name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)
        for index, page in enumerate(context.pages):
            if not page.is_closed():
                page.screenshot(path=str(ARTIFACTS / f"{name}-{index}.png"), full_page=True)
    context.close()
