"""Run an issuer page's Python blocks against a LocalIssuer instead of the real issuer.

Each page under ``docs/issuers/`` shows the configuration it recommends in
```python blocks.  These helpers run those blocks, in order, in one fresh
namespace (the docs convention), with ``TokenVerifier`` and
``IntrospectionVerifier`` patched to fetch through an in-memory transport and
to read a fixed clock, so the page's own objects judge tokens shaped as the
issuer documents them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import httpx
import pytest

import okta_bearer
from okta_bearer import IntrospectionVerifier, TokenVerifier
from okta_bearer.testing import LocalIssuer

PAGES = Path(__file__).resolve().parents[2] / "docs" / "issuers"

_BLOCK = re.compile(r"^```python\n(.*?)^```", re.MULTILINE | re.DOTALL)


def python_blocks(page: str) -> list[str]:
    """The ```python blocks of ``docs/issuers/<page>``, in order (fragments included)."""
    return _BLOCK.findall((PAGES / page).read_text(encoding="utf-8"))


def keys_transport(
    local: LocalIssuer, jwks_paths: tuple[str, ...] = (), *, issuer: str | None = None
) -> httpx.MockTransport:
    """The issuer's discovery and keys; its JWKS also at each of ``jwks_paths`` (any host).

    ``issuer`` replaces the metadata's ``issuer`` (``LocalIssuer`` drops a trailing
    slash that Auth0's issuer has).
    """

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path in jwks_paths:
            return httpx.Response(200, json=local.jwks())
        answer = local.handler(request)
        if issuer is not None and request.url.path.endswith(
            ("/.well-known/openid-configuration", "/.well-known/oauth-authorization-server")
        ):
            return httpx.Response(200, json={**local.metadata(), "issuer": issuer})
        return answer

    return httpx.MockTransport(handler)


def run_page(
    page: str,
    monkeypatch: pytest.MonkeyPatch,
    *,
    transport: httpx.AsyncBaseTransport,
    clock: Callable[[], float],
    env: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Run every Python block of ``page`` in one namespace and return it.

    Verifiers the page builds fetch through ``transport`` and read ``clock``.
    """

    class LocalTokenVerifier(TokenVerifier):
        def __init__(self, *args: Any, **options: Any) -> None:
            options.setdefault("transport", transport)
            options.setdefault("clock", clock)
            super().__init__(*args, **options)

    class LocalIntrospectionVerifier(IntrospectionVerifier):
        def __init__(self, *args: Any, **options: Any) -> None:
            options.setdefault("transport", transport)
            options.setdefault("clock", clock)
            super().__init__(*args, **options)

    monkeypatch.setattr(okta_bearer, "TokenVerifier", LocalTokenVerifier)
    monkeypatch.setattr(okta_bearer, "IntrospectionVerifier", LocalIntrospectionVerifier)
    for name, value in (env or {}).items():
        monkeypatch.setenv(name, value)
    namespace: dict[str, Any] = {"__name__": f"docs_issuers_{page.removesuffix('.md')}"}
    blocks = python_blocks(page)
    assert blocks, f"{page} has no python block"
    for block in blocks:
        exec(compile(block, str(PAGES / page), "exec"), namespace)  # noqa: S102 - our own docs
    return namespace
