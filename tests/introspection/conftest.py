"""Fixtures: a LocalIssuer with an introspection endpoint, on a settable clock, and both drivers.

Most behaviour of :class:`~okta_bearer.IntrospectionVerifier` is shared by its
two sides, so the suites run over the ``driver`` fixture: ``async`` calls
``verify`` in the event loop, ``sync`` calls ``verify_sync`` in worker threads
(``anyio.to_thread``), so concurrent calls are concurrent threads.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

import anyio.to_thread
import httpx
import pytest

from okta_bearer import Claims
from okta_bearer._flow import Flow, run, run_sync
from okta_bearer._store.lease import Fetched, shared_fetch
from okta_bearer._store.memory import MemoryStore, _SyncMemoryStore
from okta_bearer._testing.opaque import IntrospectionServer
from okta_bearer.testing import LocalIssuer

from ..helpers import Clock


@pytest.fixture
def clock() -> Clock:
    """The clock the issuer and the verifiers read."""
    return Clock()


@pytest.fixture
def local(clock: Clock) -> LocalIssuer:
    """The in-memory issuer whose tokens are introspected."""
    return LocalIssuer(clock=clock)


@pytest.fixture
def server(local: LocalIssuer) -> IntrospectionServer:
    """``/v1/introspect`` and ``/v1/revoke`` in front of ``local``."""
    return IntrospectionServer(local)


class Driver:
    """One side of a verifier: ``verify`` in the loop, or ``verify_sync`` in a worker thread."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name

    async def verify(self, verifier: Any, token: str, scopes: Iterable[str] = ()) -> Claims:
        """The verifier's answer for ``token``, through this side."""
        if self.name == "async":
            claims: Claims = await verifier.verify(token, scopes)
            return claims
        return await anyio.to_thread.run_sync(lambda: verifier.verify_sync(token, scopes))

    async def lease(
        self, store: MemoryStore, key: str, fetch: Callable[[], Flow[Fetched]], **options: Any
    ) -> tuple[bytes, bool]:
        """``shared_fetch`` run by this side's driver (the store's blocking face for sync)."""
        flow = shared_fetch(key, fetch, **options)
        if self.name == "async":
            async with httpx.AsyncClient() as client:
                return await run(flow, client, store)

        def blocking() -> tuple[bytes, bool]:
            with httpx.Client() as client:
                return run_sync(flow, client, store.sync)

        return await anyio.to_thread.run_sync(blocking)


@pytest.fixture(params=["async", "sync"])
def driver(request: pytest.FixtureRequest) -> Driver:
    """Each test using it runs once per side."""
    return Driver(request.param)


class Delayed(httpx.MockTransport):
    """A mock transport whose answers take ``delay(request)`` seconds, on either side.

    The async side sleeps in the loop; the sync side sleeps in the thread and,
    as a real transport does, gives up at the request's read timeout
    (``httpx.ReadTimeout``).  ``peak`` is the most requests ever in flight at once.
    """

    def __init__(
        self,
        handler: Callable[[httpx.Request], httpx.Response],
        delay: Callable[[httpx.Request], float],
    ) -> None:
        super().__init__(handler)
        self._delay = delay
        self._lock = threading.Lock()
        self.in_flight = self.peak = 0

    def _enter(self) -> None:
        with self._lock:
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)

    def _leave(self) -> None:
        with self._lock:
            self.in_flight -= 1

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        delay = self._delay(request)
        self._enter()
        try:
            limit = request.extensions.get("timeout", {}).get("read")
            if limit is not None and limit < delay:
                time.sleep(limit)
                raise httpx.ReadTimeout("timed out", request=request)
            time.sleep(delay)
        finally:
            self._leave()
        return super().handle_request(request)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        delay = self._delay(request)
        self._enter()
        try:
            await asyncio.sleep(delay)
        finally:
            self._leave()
        return await super().handle_async_request(request)


def introspections_take(seconds: float) -> Callable[[httpx.Request], float]:
    """A ``Delayed`` delay: ``seconds`` for introspection requests, none for the others."""
    return lambda request: seconds if request.url.path.endswith("/v1/introspect") else 0.0


class HookedStore(MemoryStore):
    """A memory store whose two faces call ``hook(store, method, key)`` before each operation.

    Both faces go through the same hooked blocking face, so one scripted
    interleaving (or outage: the hook raises) serves both drivers.
    """

    def __init__(self, hook: Callable[[HookedStore, str, str], None]) -> None:
        super().__init__()
        self.sync = _HookedFace(self, hook)
        self.plain = _SyncMemoryStore(self)  # the same entries, unhooked (for the hook itself)
        self.misses = 0  # for hooks that count


class _HookedFace(_SyncMemoryStore):
    def __init__(self, store: HookedStore, hook: Callable[[HookedStore, str, str], None]) -> None:
        super().__init__(store)
        self._hooked = store
        self._hook = hook

    def set_if_absent(self, key: str, value: bytes, ttl: float) -> bool:
        self._hook(self._hooked, "set_if_absent", key)
        return super().set_if_absent(key, value, ttl)

    def set(self, key: str, value: bytes, ttl: float) -> None:
        self._hook(self._hooked, "set", key)
        super().set(key, value, ttl)

    def get(self, key: str) -> bytes | None:
        self._hook(self._hooked, "get", key)
        return super().get(key)

    def delete(self, key: str) -> None:
        self._hook(self._hooked, "delete", key)
        super().delete(key)

    def delete_if_equal(self, key: str, value: bytes) -> bool:
        self._hook(self._hooked, "delete_if_equal", key)
        return super().delete_if_equal(key, value)

    def increment(self, key: str, ttl: float) -> int:
        self._hook(self._hooked, "increment", key)
        return super().increment(key, ttl)
