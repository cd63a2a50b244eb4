"""What the pages say that a block cannot check by itself: the README's shape, lines and wiring.

These were tests/test_readme.py and tests/mcp/test_readme.py; they follow the
content to the pages it moved to.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from okta_bearer import BearerAuthMiddleware, TokenVerifier
from okta_bearer.testing import LocalIssuer

from .blocks import DOCS, ROOT, blocks

README = ROOT / "README.md"


def section(page: Path, title: str) -> str:
    """The text of ``## title`` on ``page``, up to the next ``## ``."""
    return page.read_text().split(f"## {title}\n", 1)[1].split("\n## ", 1)[0]


def fenced(text: str, language: str) -> list[str]:
    """The bodies of the ```language blocks in ``text``."""
    return re.findall(rf"^```{language}\n(.*?)^```", text, flags=re.M | re.S)


def run_source(source: str, name: str) -> dict[str, Any]:
    """Execute one block in a fresh namespace."""
    namespace: dict[str, Any] = {"__name__": name}
    exec(compile(source, name, "exec"), namespace)  # noqa: S102 - our own documentation
    return namespace


def middleware_of(app: Any) -> BearerAuthMiddleware:
    """The BearerAuthMiddleware inside a Starlette or FastAPI app's middleware stack."""
    app.middleware_stack = app.build_middleware_stack()
    layer = app.middleware_stack
    while not isinstance(layer, BearerAuthMiddleware):
        layer = layer.app
    return layer


def test_readme_is_a_front_page() -> None:
    """The README fits in about 150 lines and links into the site and to how to serve it."""
    text = README.read_text()
    assert len(text.splitlines()) <= 150
    assert "mkdocs serve" in text
    for link in re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", text):
        if not link.startswith("http"):
            assert (ROOT / link).is_file(), link


def test_readme_test_command_is_the_one_ci_runs() -> None:
    """The README's commands are the install-and-demo line and exactly `python -m pytest`."""
    lines = fenced(README.read_text(), "sh")[0].strip().splitlines()
    assert lines[0].endswith("pip install -e '.[test]' && okta-bearer demo")
    assert lines[1] == "python -m pytest"
    assert (ROOT / ".ci" / "run").read_text().rstrip().endswith("\npython -m pytest")


def test_readme_quick_start_fits_on_a_screen() -> None:
    """The FastAPI quick start stays within 15 non-blank lines."""
    (source,) = fenced(section(README, "FastAPI quick start"), "python")
    assert len([line for line in source.splitlines() if line.strip()]) <= 15


@pytest.mark.anyio
async def test_readme_quick_start_protects_its_route() -> None:
    """The README's quick start, as printed, answers 200 with a valid token and 401 without."""
    (source,) = fenced(section(README, "FastAPI quick start"), "python")
    app = run_source(source, "quick_start")["app"]
    layer = middleware_of(app)
    assert isinstance(layer.verifier, TokenVerifier)
    issuer = LocalIssuer(layer.verifier.issuer, layer.verifier.audiences[0])
    layer.verifier = issuer.verifier()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        ok = await c.get("/items", headers={"Authorization": f"Bearer {issuer.mint()}"})
        anonymous = await c.get("/items")
    assert (ok.status_code, ok.json()) == (200, {"hello": "alice@example.com"})
    assert anonymous.status_code == 401


def test_testing_factory_matches_the_quick_start() -> None:
    """The testing guide's myapi.py has the quick start's routes, scopes and refusals."""
    (source,) = fenced(section(README, "FastAPI quick start"), "python")
    quick = run_source(source, "quick_start")["app"]
    myapi = blocks(DOCS / "guides" / "testing.md")[0]
    assert myapi.file_name == "myapi"
    factory = run_source(myapi.source, "myapi")["app"]
    assert factory.openapi()["paths"] == quick.openapi()["paths"]


@pytest.mark.anyio
async def test_refusal_log_line_is_the_real_one(caplog: pytest.LogCaptureFixture) -> None:
    """The log line the logs guide shows is what a wrong-audience token produces."""
    page = DOCS / "guides" / "metrics-and-logs.md"
    (printed,) = fenced(section(page, "Logs"), "text")
    issuer = LocalIssuer()
    myapi = blocks(DOCS / "guides" / "testing.md")[0].source
    app = run_source(myapi, "myapi")["create_app"](issuer.verifier())
    caplog.set_level(logging.INFO, logger="okta_bearer")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        token = issuer.mint(aud="api://other")
        await c.get("/items", headers={"Authorization": f"Bearer {token}"})
    assert [r.getMessage() for r in caplog.records] == [printed.strip()]


def test_metrics_wiring_reaches_the_verifier_protect_builds() -> None:
    """The metrics block, as printed, gives its events to the middleware and its verifier."""
    source = blocks(DOCS / "guides" / "metrics-and-logs.md")[0].source
    namespace = run_source(source, "metrics_wiring")
    layer = middleware_of(namespace["app"])
    assert layer._events is namespace["events"]
    assert isinstance(layer.verifier, TokenVerifier)
    assert layer.verifier._events is namespace["events"]


@pytest.mark.anyio
async def test_dpop_example_builds_an_owned_redis_store() -> None:
    """The DPoP settings example builds an allowed-mode middleware owning a Redis store by URL."""
    from okta_bearer.redis_store import RedisStore

    source = blocks(DOCS / "reference" / "dpop.md")[0].source
    app = run_source(source, "dpop_example")["app"]
    assert isinstance(app, BearerAuthMiddleware)
    assert app._dpop is not None
    settings = app._dpop.settings
    assert settings.mode == "allowed"
    assert isinstance(settings.replay_store, RedisStore)
    assert settings.owns_store
    await settings.replay_store.aclose()
    await app.verifier.aclose()
