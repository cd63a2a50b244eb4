"""Both sides of a TokenVerifier as one fixture, and a key server for either.

``driver`` verifies a token through the async side (``verify()`` in an event
loop of its own) or the sync side (``verify_sync()`` in the calling thread),
so a behaviour of the key policy is written once and proven on both.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import httpx
import pytest

from okta_bearer import Claims, KeyPolicy, TokenVerifier
from okta_bearer.testing import LocalIssuer

from ..helpers import Clock, settle

ISSUER = "https://okta.example.test/oauth2/default"
AUDIENCE = "api://default"


class KeyServer(httpx.MockTransport):
    """LocalIssuer's discovery and JWKS, for both sides, with faults and a request log.

    ``faults[kind]`` (``"discovery"`` or ``"jwks"``) answers that kind instead
    of the issuer; ``hold[kind]``, when set, is an event the request waits for
    (sync side only: the handler blocks its thread).
    """

    def __init__(self, issuer: LocalIssuer, clock: Clock) -> None:
        super().__init__(self.answer)
        self.issuer = issuer
        self.clock = clock
        self.faults: dict[str, Callable[[httpx.Request], httpx.Response]] = {}
        self.hold: dict[str, threading.Event] = {}
        self.arrived: dict[str, threading.Event] = {
            "discovery": threading.Event(),
            "jwks": threading.Event(),
        }
        #: (kind, fake time) of every request received.
        self.log: list[tuple[str, float]] = []
        self._lock = threading.Lock()

    @staticmethod
    def kind(request: httpx.Request) -> str:
        """Which endpoint a request is for."""
        if request.url.path.endswith("/v1/keys"):
            return "jwks"
        return "discovery" if "/.well-known/" in request.url.path else "other"

    def count(self, kind: str) -> int:
        """How many requests of ``kind`` arrived."""
        with self._lock:
            return sum(1 for k, _ in self.log if k == kind)

    def answer(self, request: httpx.Request) -> httpx.Response:
        """Answer like the issuer, unless a fault is set for this kind."""
        kind = self.kind(request)
        with self._lock:
            self.log.append((kind, self.clock()))
        self.arrived.setdefault(kind, threading.Event()).set()
        gate = self.hold.get(kind)
        if gate is not None:
            gate.wait(10)
        fault = self.faults.get(kind)
        return fault(request) if fault is not None else self.issuer.handler(request)


def status(code: int) -> Callable[[httpx.Request], httpx.Response]:
    """A fault answering ``code`` with a small JSON body."""
    return lambda request: httpx.Response(code, json={"errorCode": "E0000009"})


class Driver:
    """One side of a verifier: ``verify`` a token, ``settle`` background refreshes."""

    def __init__(self, side: str) -> None:
        self.side = side
        self._runner = asyncio.new_event_loop() if side == "async" else None
        self._verifiers: list[TokenVerifier] = []

    def verifier(self, issuer: LocalIssuer, transport: Any, **options: Any) -> TokenVerifier:
        """A TokenVerifier for ``issuer`` over ``transport``, closed with the driver."""
        options.setdefault("keys", KeyPolicy(timeout=0.5))
        verifier = TokenVerifier(issuer.issuer, AUDIENCE, transport=transport, **options)
        self._verifiers.append(verifier)
        return verifier

    def verify(self, verifier: TokenVerifier, token: str, scopes: Iterable[str] = ()) -> Claims:
        """Verify ``token`` through this side."""
        if self._runner is None:
            return verifier.verify_sync(token, scopes)
        return self._runner.run_until_complete(verifier.verify(token, scopes))

    def reason(self, verifier: TokenVerifier, token: str) -> str:
        """``"ok"``, or the reason code of the refusal."""
        try:
            self.verify(verifier, token)
        except Exception as exc:
            return str(getattr(exc, "reason", type(exc).__name__))
        return "ok"

    def fetch_counts(self, verifier: TokenVerifier) -> dict[str, int]:
        """This side's discovery and JWKS request counts."""
        if self._runner is None:
            return verifier.sync_keys.fetch_counts
        return verifier.keys.fetch_counts

    def settle(self, verifier: TokenVerifier) -> None:
        """Wait until no refresh of this side is in flight (a background one included)."""
        if self._runner is None:
            done = verifier.sync_keys._done
            if done is not None:
                assert done.wait(10)
            return

        async def idle() -> None:
            task = verifier.keys._task
            if task is not None:
                await asyncio.wait([task], timeout=10)
            await settle()

        self._runner.run_until_complete(idle())

    def close(self) -> None:
        """Close every verifier made, then the event loop."""
        for verifier in self._verifiers:
            if self._runner is None:
                verifier.close()
            else:
                self._runner.run_until_complete(verifier.aclose())
        if self._runner is not None:
            self._runner.close()


@pytest.fixture(params=["async", "sync"])
def driver(request: pytest.FixtureRequest) -> Iterator[Driver]:
    """Each test once through ``verify()`` and once through ``verify_sync()``."""
    side = Driver(request.param)
    try:
        yield side
    finally:
        side.close()


class World:
    """A fake clock, an issuer, its key server and a verifier on one side."""

    def __init__(self, driver: Driver, **options: Any) -> None:
        self.driver = driver
        self.clock = Clock()
        self.issuer = LocalIssuer(ISSUER, AUDIENCE, clock=self.clock)
        self.server = KeyServer(self.issuer, self.clock)
        self.verifier = driver.verifier(self.issuer, self.server, clock=self.clock, **options)

    def token(self, **claims: Any) -> str:
        """A fresh token (distinct jti: never a verified-token cache hit)."""
        return self.issuer.mint(**claims)

    def reason(self, token: str) -> str:
        """``"ok"`` or the refusal's reason code."""
        return self.driver.reason(self.verifier, token)


@pytest.fixture
def world(driver: Driver) -> World:
    """A World on the side ``driver`` stands for."""
    return World(driver)
