"""What only the sync side has: real threads, its transport and store, its start-up and close."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from okta_bearer import ConfigurationError, IntrospectionUnavailable
from okta_bearer._testing.opaque import IntrospectionServer

from .conftest import Delayed, introspections_take


def _in_threads(count: int, work: Callable[[], Any]) -> list[Any]:
    """Run ``work`` in ``count`` threads released at once; each one's result or exception."""
    barrier = threading.Barrier(count)
    results: list[Any] = [None] * count

    def one(index: int) -> None:
        barrier.wait()
        try:
            results[index] = work()
        except Exception as exc:
            results[index] = exc

    threads = [threading.Thread(target=one, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return results


def test_thirty_two_threads_with_one_new_token_make_one_introspection(
    server: IntrospectionServer,
) -> None:
    """32 threads presenting one new opaque token at once cause one discovery and one call."""
    token = server.mint_opaque()
    transport = Delayed(server.handler, introspections_take(0.05))
    with server.verifier(transport=transport) as verifier:
        results = _in_threads(32, lambda: verifier.verify_sync(token, ["items:read"]))
    assert all(not isinstance(r, Exception) for r in results), results
    assert {claims.jti for claims in results} == {results[0].jti}
    assert server.count("/v1/introspect") == 1
    assert verifier.fetch_counts == {"discovery": 1, "introspection": 1}


def test_threads_waiting_on_a_stuck_call_never_wait_past_the_timeout(
    server: IntrospectionServer,
) -> None:
    """An introspection that never answers: every thread gets 503 within the timeout budget."""
    token = server.mint_opaque()
    transport = Delayed(server.handler, introspections_take(30))

    def timed() -> tuple[object, float]:
        started = time.monotonic()
        try:
            verifier.verify_sync(token)
        except IntrospectionUnavailable as exc:
            return exc, time.monotonic() - started
        return None, time.monotonic() - started

    with server.verifier(transport=transport, timeout=0.3) as verifier:
        verifier.warm_up_sync()  # discovery done: the budget is the call's alone
        results = _in_threads(8, timed)
    assert all(isinstance(error, IntrospectionUnavailable) for error, _ in results)
    assert max(elapsed for _, elapsed in results) < 0.6
    assert verifier.fetch_counts["introspection"] == 1  # the others waited for it


def test_sync_slots_are_never_waited_on_past_the_timeout(server: IntrospectionServer) -> None:
    """max_concurrent=1 with a slow call: threads with other new tokens get 503 at the timeout."""
    transport = Delayed(server.handler, introspections_take(0.25))
    tokens = iter([server.mint_opaque() for _ in range(4)])
    lock = threading.Lock()

    def verify_next() -> object:
        with lock:
            token = next(tokens)
        return verifier.verify_sync(token)

    with server.verifier(transport=transport, max_concurrent=1, timeout=0.3) as verifier:
        verifier.warm_up_sync()
        started = time.monotonic()
        results = _in_threads(4, verify_next)
        elapsed = time.monotonic() - started
    assert sum(isinstance(r, IntrospectionUnavailable) for r in results) == 3
    assert elapsed < 0.5
    assert transport.peak == 1


_NEEDS_SYNC = r"^transport: verify_sync\(\) needs an httpx\.BaseTransport"
_NEEDS_ASYNC = r"^transport: verify\(\) needs an httpx\.AsyncBaseTransport"


class _AsyncOnly(httpx.AsyncBaseTransport):
    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return httpx.Response(500)


class _SyncOnly(httpx.BaseTransport):
    def handle_request(self, request: httpx.Request) -> httpx.Response:
        return httpx.Response(500)


def test_an_async_only_transport_refuses_the_sync_side_naming_it(
    server: IntrospectionServer,
) -> None:
    """An httpx.AsyncBaseTransport cannot serve verify_sync: ConfigurationError naming transport."""
    with server.verifier(transport=_AsyncOnly()) as verifier:
        with pytest.raises(ConfigurationError, match=_NEEDS_SYNC):
            verifier.verify_sync(server.mint_opaque())
        with pytest.raises(ConfigurationError, match=r"^transport"):
            verifier.warm_up_sync()


@pytest.mark.anyio
async def test_a_sync_only_transport_refuses_the_async_side_naming_it(
    server: IntrospectionServer,
) -> None:
    """An httpx.BaseTransport cannot serve verify: ConfigurationError naming transport."""
    async with server.verifier(transport=_SyncOnly()) as verifier:
        with pytest.raises(ConfigurationError, match=_NEEDS_ASYNC):
            await verifier.verify(server.mint_opaque())


def test_a_sync_only_transport_serves_the_sync_side(server: IntrospectionServer) -> None:
    """A plain httpx.BaseTransport is enough for verify_sync."""

    class Handler(httpx.BaseTransport):
        def handle_request(self, request: httpx.Request) -> httpx.Response:
            response = server.handler(request)
            return httpx.Response(
                response.status_code, headers=response.headers, content=response.read()
            )

    with server.verifier(transport=Handler()) as verifier:
        claims = verifier.verify_sync(server.mint_opaque())
    assert claims.client_id == server.local.client_id


def test_a_transport_of_neither_kind_is_refused_at_construction(
    server: IntrospectionServer,
) -> None:
    """Anything but an httpx transport is a ConfigurationError naming transport, at once."""
    with pytest.raises(ConfigurationError, match=r"^transport"):
        server.verifier(transport=object())


class _AsyncOnlyStore:
    """A Store with no blocking face (no 'sync' attribute)."""

    async def set_if_absent(self, key: str, value: bytes, ttl: float) -> bool:
        return True

    async def set(self, key: str, value: bytes, ttl: float) -> None:
        return None

    async def get(self, key: str) -> bytes | None:
        return None

    async def delete(self, key: str) -> None:
        return None

    async def delete_if_equal(self, key: str, value: bytes) -> bool:
        return True

    async def increment(self, key: str, ttl: float) -> int:
        return 1

    async def aclose(self) -> None:
        return None


@pytest.mark.anyio
async def test_a_store_without_a_blocking_face_is_refused_by_the_sync_side_only(
    server: IntrospectionServer,
) -> None:
    """verify works with an async-only store; verify_sync names the store option."""
    async with server.verifier(store=_AsyncOnlyStore()) as verifier:
        await verifier.verify(server.mint_opaque())
        with pytest.raises(ConfigurationError, match=r"^store has no blocking face"):
            verifier.verify_sync(server.mint_opaque())


def test_warm_up_sync_discovers_or_reports(server: IntrospectionServer) -> None:
    """warm_up_sync discovers the endpoint; an unreachable issuer is a problem, not an exception."""
    with server.verifier() as verifier:
        assert verifier.warm_up_sync() == []
        assert verifier.introspection_endpoint == server.introspection_endpoint

    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    with server.verifier(transport=httpx.MockTransport(down)) as verifier:
        (problem,) = verifier.warm_up_sync()
    assert "introspection endpoint discovery failed" in problem


def test_close_releases_the_sync_client(server: IntrospectionServer) -> None:
    """close() closes the sync side's client; a later verify_sync opens a new one."""
    verifier = server.verifier(store=None)
    verifier.verify_sync(server.mint_opaque())
    client = verifier._sync_client
    assert client is not None
    verifier.close()
    assert client.is_closed
