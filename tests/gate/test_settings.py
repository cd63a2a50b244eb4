"""One settings object: the middleware and the sync gate check options the same way."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.applications import Starlette

from okta_bearer import (
    BearerAuthMiddleware,
    ConfigurationError,
    DPoPSettings,
    MemoryStore,
    TokenVerifier,
)
from okta_bearer._http.gate import Gate

from ._fakes import ISSUER, TableVerifier

BASE: dict[str, Any] = {"issuer": ISSUER, "audience": "api://default"}

MISTAKES: list[tuple[str, dict[str, Any]]] = [
    ("public-paths-string", {**BASE, "public_paths": "/health"}),
    ("public-path-relative", {**BASE, "public_paths": ["health"]}),
    ("scopes-string", {**BASE, "required_scopes": "items:read"}),
    ("scope-with-space", {**BASE, "required_scopes": ["a b"]}),
    ("scope-not-a-string", {**BASE, "required_scopes": [10**400]}),
    ("on-error-not-callable", {**BASE, "on_error": 3}),
    ("dpop-not-settings", {**BASE, "dpop": {"mode": "required"}}),
    ("resource-not-url", {**BASE, "resource": 5}),
    ("resource-relative", {**BASE, "resource": "/mcp"}),
    ("realm-with-quote", {**BASE, "realm": 'a"b'}),
    ("events-wrong-type", {**BASE, "events": object()}),
    ("no-audience", {"issuer": ISSUER}),
    ("verifier-and-issuer", {**BASE, "verifier": TableVerifier({})}),
    ("misspelt-option", {**BASE, "public_path": ["/health"]}),
]


def middleware_error(options: dict[str, Any]) -> str:
    """The message the ASGI middleware raises for ``options``."""
    with pytest.raises(ConfigurationError) as caught:
        BearerAuthMiddleware(Starlette(), **options)
    return str(caught.value).replace("BearerAuthMiddleware()", "API")


def gate_error(options: dict[str, Any]) -> str:
    """The message the sync gate raises for ``options``."""
    with pytest.raises(ConfigurationError) as caught:
        Gate(**options)
    return str(caught.value).replace("Gate()", "API")


@pytest.mark.parametrize(("name", "options"), MISTAKES, ids=[name for name, _ in MISTAKES])
def test_a_mistake_is_the_same_error_on_both_sides(name: str, options: dict[str, Any]) -> None:
    """Every option mistake raises the same ConfigurationError from the middleware and the gate."""
    assert middleware_error(options) == gate_error(options)


def test_the_gate_needs_a_sync_verifier() -> None:
    """An async-only verifier is refused by the gate, naming the protocol it lacks."""

    class AsyncOnly:
        async def verify(self, token: str, required_scopes: Any = ()) -> Any:
            raise NotImplementedError

        async def aclose(self) -> None:
            return None

    with pytest.raises(ConfigurationError, match="SyncVerifier"):
        Gate(AsyncOnly())


def test_the_gate_needs_a_store_with_a_blocking_face() -> None:
    """With dpop=, a replay store without a sync face is refused at start-up, naming the option."""

    class AsyncOnlyStore:
        """A store written for asyncio only: the Store protocol, no ``sync`` face."""

        def __init__(self) -> None:
            self.inner = MemoryStore()

        def __getattr__(self, name: str) -> Any:
            if name == "sync":
                raise AttributeError(name)
            return getattr(self.inner, name)

        async def set_if_absent(self, key: str, value: bytes, ttl: float) -> bool:
            return await self.inner.set_if_absent(key, value, ttl)

    settings = DPoPSettings(store=AsyncOnlyStore())
    with pytest.raises(ConfigurationError, match=r"dpop\.store has no blocking face"):
        Gate(TableVerifier({}), dpop=settings)


def test_a_built_verifier_is_owned_and_accepts_the_resource() -> None:
    """issuer=/audience= build a verifier the gate owns; resource= is an audience (RFC 8707)."""
    gate = Gate(**BASE, resource="https://api.example.test/items")
    assert isinstance(gate.verifier, TokenVerifier)
    assert gate.settings.owns_verifier
    assert gate.verifier.audiences == ("api://default", "https://api.example.test/items")


def test_a_given_verifier_is_not_closed_by_the_gate() -> None:
    """close() leaves a verifier the caller passed alone."""
    verifier = TableVerifier({})
    Gate(verifier).close()
    assert not verifier.closed
