"""The README's examples run as printed: quick starts, the testing factory, the refusal log line."""

from __future__ import annotations

import logging
import re
import sys
import types
from pathlib import Path
from typing import Any

import httpx
import pytest

from okta_bearer import BearerAuthMiddleware, TokenVerifier
from okta_bearer.testing import LocalIssuer

pytestmark = pytest.mark.anyio
README = Path(__file__).resolve().parent.parent / "README.md"


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.DOTALL)


def section(title: str) -> str:
    return README.read_text().split(f"## {title}\n", 1)[1].split("\n## ", 1)[0]


def blocks(title: str, language: str = "python") -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", section(title), flags=re.DOTALL)


def run(source: str, name: str) -> dict[str, Any]:
    namespace: dict[str, Any] = {"__name__": name}
    exec(compile(source, "README.md", "exec"), namespace)  # noqa: S102 - our README
    return namespace


def swap_in_local_issuer(app: Any) -> LocalIssuer:
    """Find the middleware the README built and point it at an in-memory issuer of the same name."""
    app.middleware_stack = app.build_middleware_stack()
    layer = app.middleware_stack
    while not isinstance(layer, BearerAuthMiddleware):
        layer = layer.app
    assert isinstance(layer.verifier, TokenVerifier)
    issuer = LocalIssuer(layer.verifier.issuer, layer.verifier.audiences[0])
    layer.verifier = issuer.verifier()
    return issuer


@pytest.mark.parametrize("title", ["FastAPI quick start", "Starlette quick start"])
async def test_quick_start(title: str) -> None:
    """Each quick start, executed as printed, answers 200 with a valid token and 401 without."""
    app = run(blocks(title)[0], "quick_start")["app"]
    issuer = swap_in_local_issuer(app)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        ok = await c.get("/items", headers={"Authorization": f"Bearer {issuer.mint()}"})
        anonymous = await c.get("/items")
    assert ok.status_code == 200
    assert ok.json()["hello"] == "alice@example.com"
    assert anonymous.status_code == 401


def test_fastapi_quick_start_fits_on_a_screen() -> None:
    """The FastAPI quick start stays within 15 non-blank lines."""
    lines = [line for line in blocks("FastAPI quick start")[0].splitlines() if line.strip()]
    assert len(lines) <= 15
    assert len(python_blocks()) >= 4


async def test_testing_section_runs_as_printed(monkeypatch: pytest.MonkeyPatch) -> None:
    """The testing section's myapi.py and its test pass together, exactly as printed."""
    factory, test, _ = blocks("Testing your own app")
    myapi = types.ModuleType("myapi")
    exec(compile(factory, "README.md", "exec"), myapi.__dict__)  # noqa: S102 - our README
    monkeypatch.setitem(sys.modules, "myapi", myapi)
    await run(test, "test_myapi")["test_items"](LocalIssuer())


async def test_two_issuer_testing_example_runs_as_printed(monkeypatch: pytest.MonkeyPatch) -> None:
    """The two-issuer test in the testing section passes as printed, against the same myapi."""
    factory, _, tenants = blocks("Testing your own app")
    assert "MultiIssuerVerifier([old.verifier(), new.verifier()])" in tenants
    myapi = types.ModuleType("myapi")
    exec(compile(factory, "README.md", "exec"), myapi.__dict__)  # noqa: S102 - our README
    monkeypatch.setitem(sys.modules, "myapi", myapi)
    await run(tenants, "test_tenants")["test_two_issuers"]()


def test_metrics_wiring_reaches_the_verifier_protect_builds() -> None:
    """The Logs and metrics block, as printed, gives its events to the middleware and verifier."""
    namespace = run(blocks("Logs and metrics")[0], "metrics_wiring")
    app, events = namespace["app"], namespace["events"]
    app.middleware_stack = app.build_middleware_stack()
    layer = app.middleware_stack
    while not isinstance(layer, BearerAuthMiddleware):
        layer = layer.app
    assert layer._events is events
    assert isinstance(layer.verifier, TokenVerifier)
    assert layer.verifier._events is events


def test_testing_factory_matches_the_quick_start() -> None:
    """The factory's app has the quick start's routes, scopes and documented refusals."""
    quick = run(blocks("FastAPI quick start")[0], "quick_start")["app"]
    factory = run(blocks("Testing your own app")[0], "myapi")["app"]
    assert factory.openapi()["paths"] == quick.openapi()["paths"]


async def test_refusal_log_line_is_the_real_one(caplog: pytest.LogCaptureFixture) -> None:
    """The log line the Errors section shows is what a wrong-audience token produces."""
    (printed,) = blocks("Errors", "text")
    issuer = LocalIssuer()
    app = run(blocks("Testing your own app")[0], "myapi")["create_app"](issuer.verifier())
    caplog.set_level(logging.INFO, logger="okta_bearer")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        token = issuer.mint(aud="api://other")
        await c.get("/items", headers={"Authorization": f"Bearer {token}"})
    assert [r.getMessage() for r in caplog.records] == [printed.strip()]


async def test_dpop_example_runs_as_printed() -> None:
    """The DPoP section's example builds a middleware in allowed mode with a Redis store by URL."""
    from okta_bearer.redis_store import RedisStore

    [source] = blocks("Sender-constrained tokens (DPoP)")
    namespace: dict[str, Any] = {"__name__": "dpop_example", "inner_app": lambda *a: None}
    exec(compile(source, "README.md", "exec"), namespace)  # noqa: S102 - our README
    app = namespace["app"]
    assert isinstance(app, BearerAuthMiddleware)
    assert app._dpop is not None
    settings = app._dpop.settings
    assert settings.mode == "allowed"
    assert isinstance(settings.replay_store, RedisStore)
    assert settings.owns_store
    await settings.replay_store.aclose()
    await app.verifier.aclose()
