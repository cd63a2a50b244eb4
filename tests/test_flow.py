"""Flows run alike on both drivers: results sent, failures thrown at the yield, one budget."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from okta_bearer._errors import ConfigurationError
from okta_bearer._flow import (
    BodyTooLarge,
    Flow,
    HttpRequest,
    HttpResponse,
    Pause,
    StoreCall,
    run,
    run_sync,
)
from okta_bearer._store.memory import MemoryStore, StoreUnavailable, sync_face

Driver = Callable[..., Any]


def _handler(request: httpx.Request) -> httpx.Response:
    if request.url.path == "/big":
        return httpx.Response(200, content=b"x" * 2000)
    if request.url.path == "/declared":
        return httpx.Response(200, headers={"content-length": "9" * 400}, content=b"{}")
    if request.url.path == "/slow":
        time.sleep(0.5)
    return httpx.Response(200, json={"method": request.method}, headers={"x-seen": "1"})


async def _async_handler(request: httpx.Request) -> httpx.Response:
    if request.url.path == "/slow":
        await asyncio.sleep(0.5)
        return httpx.Response(200)
    return _handler(request)


def _drive(driver: str, flow: Flow[Any], store: Any = None, **kw: Any) -> Any:
    if driver == "sync":
        with httpx.Client(transport=httpx.MockTransport(_handler)) as client:
            return run_sync(flow, client, None if store is None else store.sync, **kw)

    async def main() -> Any:
        transport = httpx.MockTransport(_async_handler)
        async with httpx.AsyncClient(transport=transport) as client:
            return await run(flow, client, store, **kw)

    return asyncio.run(main())


@pytest.fixture(params=["async", "sync"])
def driver(request: pytest.FixtureRequest) -> str:
    """Each flow test runs once per driver."""
    return str(request.param)


def test_effects_results_are_sent_back_into_the_flow(driver: str) -> None:
    """An HTTP answer and a store result arrive where the flow yielded them."""

    def flow() -> Flow[tuple[int, bytes | None, str | None]]:
        response = yield HttpRequest("GET", "https://issuer.test/x")
        assert isinstance(response, HttpResponse)
        yield StoreCall("set", ("k", b"v", 10.0))
        value = yield StoreCall("get", ("k",))
        return response.status, value, response.headers.get("x-seen")

    assert _drive(driver, flow(), MemoryStore()) == (200, b"v", "1")


def test_a_failure_is_thrown_at_the_yield_and_can_be_handled(driver: str) -> None:
    """A store failure reaches the flow's except clause, which decides what it means."""

    class Down:
        """A store (both faces) whose every call fails."""

        def __init__(self) -> None:
            self.sync = self

        def get(self, key: str) -> None:
            raise StoreUnavailable("down")

    class AsyncDown(Down):
        async def get(self, key: str) -> None:  # type: ignore[override]
            raise StoreUnavailable("down")

    store = Down() if driver == "sync" else AsyncDown()

    def flow() -> Flow[str]:
        try:
            yield StoreCall("get", ("k",))
        except StoreUnavailable:
            return "handled"
        return "not reached"

    assert _drive(driver, flow(), store) == "handled"


def test_a_body_over_the_cap_is_refused_while_reading(driver: str) -> None:
    """A body larger than max_body is BodyTooLarge, whether declared or streamed."""

    def flow(path: str) -> Flow[object]:
        return (yield HttpRequest("GET", f"https://issuer.test{path}", max_body=1000))

    for path in ("/big", "/declared"):
        with pytest.raises(BodyTooLarge):
            _drive(driver, flow(path))


def test_the_budget_bounds_the_whole_flow_and_clean_up_still_runs(driver: str) -> None:
    """A flow past its timeout raises TimeoutError; its finally block's effects still run."""
    store = MemoryStore()

    def flow() -> Flow[None]:
        yield StoreCall("set", ("lease", b"me", 10.0))
        try:
            while True:
                yield Pause(0.05)
        finally:
            yield StoreCall("delete", ("lease",))

    started = time.monotonic()
    with pytest.raises(TimeoutError):
        _drive(driver, flow(), store, budget=0.2)
    assert time.monotonic() - started < 2
    assert len(store) == 0


def test_a_slow_request_gets_only_the_time_left(driver: str) -> None:
    """An HTTP request inside a flow cannot outlast the flow's budget by much."""

    def flow() -> Flow[object]:
        return (yield HttpRequest("GET", "https://issuer.test/slow"))

    with pytest.raises(TimeoutError):
        _drive(driver, flow(), budget=0.1)


def test_sync_face_of_memory_store_is_atomic_under_threads() -> None:
    """Of 32 threads racing set_if_absent on one key, exactly one wins."""
    store = MemoryStore().sync
    barrier = threading.Barrier(32)
    wins: list[bool] = []

    def race() -> None:
        barrier.wait()
        wins.append(store.set_if_absent("dpop:k:j", b"1", 5.0))

    threads = [threading.Thread(target=race) for _ in range(32)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert wins.count(True) == 1


def test_both_faces_of_a_memory_store_share_entries() -> None:
    """An entry written through the async face is seen by the blocking face and back."""
    store = MemoryStore()
    asyncio.run(store.set("a", b"1", 5.0))
    assert store.sync.get("a") == b"1"
    assert store.sync.increment("n", 5.0) == 1
    assert asyncio.run(store.increment("n", 5.0)) == 2


def test_an_async_store_is_never_taken_for_a_blocking_face() -> None:
    """A store whose methods are coroutines (even with a close()) has no blocking face.

    Its coroutines are truthy: taken as blocking, every replay mark and every
    lease would look won.
    """

    class AsyncOnly:
        async def set_if_absent(self, key: str, value: bytes, ttl: float) -> bool:
            return True

        async def set(self, key: str, value: bytes, ttl: float) -> None: ...
        async def get(self, key: str) -> bytes | None: ...
        async def delete(self, key: str) -> None: ...
        async def delete_if_equal(self, key: str, value: bytes) -> bool:
            return True

        async def increment(self, key: str, ttl: float) -> int:
            return 1

        def close(self) -> None: ...

    with pytest.raises(ConfigurationError, match="replay_store has no blocking face"):
        sync_face(AsyncOnly(), "replay_store")
    assert sync_face(MemoryStore()) is not None
