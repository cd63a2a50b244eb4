"""Fixtures: a DevIssuer on an in-memory transport, with a controllable clock."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from okta_bearer.dev_issuer import DevClient, DevIssuer
from okta_bearer.testing import LocalIssuer

from .helpers import CLIENT_ID, DOCS, SPA


class Clock:
    """A settable clock, so expiry is tested without sleeping."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    """The clock every fixture issuer reads."""
    return Clock()


@pytest.fixture
def local(clock: Clock) -> LocalIssuer:
    """The in-memory issuer model behind the HTTP face."""
    return LocalIssuer("http://127.0.0.1:9400/oauth2/default", clock=clock)


@pytest.fixture
def dev(local: LocalIssuer) -> DevIssuer:
    """A dev issuer with the demo's client (SPA and Swagger UI redirect URIs)."""
    return DevIssuer(local, clients=[DevClient(CLIENT_ID, (SPA, DOCS))])


@pytest.fixture
async def client(dev: DevIssuer) -> AsyncIterator[httpx.AsyncClient]:
    """An httpx client talking to ``dev`` in-process; it keeps cookies, never follows redirects."""
    transport = httpx.ASGITransport(app=dev, client=("127.0.0.1", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:9400") as c:
        yield c
