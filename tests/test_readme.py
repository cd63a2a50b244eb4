"""The README's quick starts run as written: 200 with a minted token, 401 without."""

from __future__ import annotations

import re
import sys
import types
from pathlib import Path
from typing import Any

import httpx
import pytest

from okta_bearer import BearerAuthMiddleware
from okta_bearer.testing import LocalIssuer

pytestmark = pytest.mark.anyio
README = Path(__file__).resolve().parent.parent / "README.md"


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.DOTALL)


def quick_start(title: str) -> str:
    section = README.read_text().split(f"## {title}", 1)[1]
    match = re.search(r"```python\n(.*?)```", section, flags=re.DOTALL)
    assert match is not None
    return match.group(1)


def swap_in_local_issuer(app: Any) -> LocalIssuer:
    """Find the middleware the README built and point it at an in-memory issuer of the same name."""
    app.middleware_stack = app.build_middleware_stack()
    layer = app.middleware_stack
    while not isinstance(layer, BearerAuthMiddleware):
        layer = layer.app
    issuer = LocalIssuer(layer.verifier.issuer, layer.verifier.audiences[0])
    layer.verifier = issuer.verifier()
    return issuer


@pytest.mark.parametrize("title", ["FastAPI quick start", "Starlette quick start"])
async def test_quick_start(title: str) -> None:
    """Each quick start, executed as printed, answers 200 with a valid token and 401 without."""
    namespace: dict[str, Any] = {}
    exec(compile(quick_start(title), "README.md", "exec"), namespace)  # noqa: S102 - our README
    app = namespace["app"]
    issuer = swap_in_local_issuer(app)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        ok = await c.get("/items", headers={"Authorization": f"Bearer {issuer.mint()}"})
        anonymous = await c.get("/items")
    assert ok.status_code == 200
    assert ok.json()["hello"] == "alice@example.com"
    assert anonymous.status_code == 401


def test_fastapi_quick_start_fits_on_a_screen() -> None:
    """The FastAPI quick start stays within 15 non-blank lines."""
    lines = [line for line in quick_start("FastAPI quick start").splitlines() if line.strip()]
    assert len(lines) <= 15
    assert len(python_blocks()) >= 3


async def test_testing_kit_example(monkeypatch: pytest.MonkeyPatch) -> None:
    """The README's testing-kit example passes against an app built the way it describes."""
    from fastapi import FastAPI

    from okta_bearer import Claims, TokenVerifier
    from okta_bearer.fastapi import require_scopes

    def create_app(verifier: TokenVerifier) -> FastAPI:
        app = FastAPI()
        app.add_middleware(BearerAuthMiddleware, verifier=verifier)

        @app.get("/items")
        async def items(claims: Claims = require_scopes("items:read")) -> dict[str, str | None]:
            return {"hello": claims.sub}

        return app

    myapi = types.ModuleType("myapi")
    myapi.create_app = create_app  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "myapi", myapi)
    namespace: dict[str, Any] = {}
    exec(compile(quick_start("Testing your own app"), "README.md", "exec"), namespace)  # noqa: S102
    await namespace["test_items"](LocalIssuer())
