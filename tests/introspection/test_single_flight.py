"""One introspection per token: single-flight in a process, a lease across a shared store."""

from __future__ import annotations

import asyncio
import hashlib

import httpx
import pytest

from okta_bearer import IntrospectionUnavailable
from okta_bearer._store.lease import shared_fetch
from okta_bearer._store.memory import MemoryStore, StoreUnavailable
from okta_bearer._testing.opaque import IntrospectionServer

pytestmark = pytest.mark.anyio


def _slow(server: IntrospectionServer, delay: float = 0.05) -> httpx.MockTransport:
    async def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/v1/introspect"):
            await asyncio.sleep(delay)  # keep the first request in flight while others arrive
        return server.handler(request)

    return httpx.MockTransport(handler)


async def test_fifty_concurrent_cold_requests_make_one_call(server: IntrospectionServer) -> None:
    """50 concurrent verifications of one new opaque token cause one introspection."""
    token = server.mint_opaque()
    async with server.verifier(transport=_slow(server)) as verifier:
        results = await asyncio.gather(*(verifier.verify(token) for _ in range(50)))
    assert {claims.jti for claims in results} == {results[0].jti}
    assert server.count("/v1/introspect") == 1


async def test_concurrent_failure_reaches_every_waiter(server: IntrospectionServer) -> None:
    """When the one shared call fails, every waiter gets 503 (and no second call is made)."""
    server.answer_override = httpx.Response(502)
    token = server.mint_opaque()
    async with server.verifier(transport=_slow(server)) as verifier:
        results = await asyncio.gather(
            *(verifier.verify(token) for _ in range(20)), return_exceptions=True
        )
    assert all(isinstance(r, IntrospectionUnavailable) for r in results)
    assert server.count("/v1/introspect") == 1


async def test_cancelled_caller_does_not_cancel_the_shared_call(
    server: IntrospectionServer,
) -> None:
    """A request cancelled mid-flight leaves the introspection running for the others."""
    token = server.mint_opaque()
    async with server.verifier(transport=_slow(server)) as verifier:
        first = asyncio.ensure_future(verifier.verify(token))
        second = asyncio.ensure_future(verifier.verify(token))
        await asyncio.sleep(0.01)
        first.cancel()
        claims = await second
    assert claims.client_id == server.local.client_id
    assert server.count("/v1/introspect") == 1


async def test_shared_store_answers_another_worker(server: IntrospectionServer) -> None:
    """Two verifiers (two workers) sharing a store: the second answers without a call."""
    store = MemoryStore()
    token = server.mint_opaque()
    async with server.verifier(store=store) as one, server.verifier(store=store) as two:
        await one.verify(token)
        claims = await two.verify(token)
    assert claims.client_id == server.local.client_id
    assert server.count("/v1/introspect") == 1


async def test_store_holds_a_hash_never_the_token(server: IntrospectionServer) -> None:
    """The shared store is keyed by SHA-256 of the token and never holds the token itself."""
    store = MemoryStore()
    token = server.mint_opaque()
    async with server.verifier(store=store) as verifier:
        await verifier.verify(token)
    keys = [k for k in store._data if ":rate:" not in k]  # the call budget's counter aside
    assert len(keys) == 1
    assert all(token not in k for k in store._data)
    assert keys[0].endswith(hashlib.sha256(token.encode()).hexdigest())
    assert token not in keys[0]
    value = await store.get(keys[0])
    assert value is not None
    assert token.encode() not in value


async def test_workers_sharing_a_store_make_one_call_together(
    server: IntrospectionServer,
) -> None:
    """Four workers sharing a store, each with concurrent requests, cause one introspection."""
    store = MemoryStore()
    token = server.mint_opaque()
    workers = [server.verifier(store=store, transport=_slow(server)) for _ in range(4)]
    try:
        results = await asyncio.gather(*(w.verify(token) for w in workers for _ in range(10)))
    finally:
        for worker in workers:
            await worker.aclose()
    assert len(results) == 40
    assert server.count("/v1/introspect") == 1


async def test_lease_holder_death_costs_one_fetch_per_waiter() -> None:
    """If the lease holder fails, each waiter fetches once itself: no stampede, no hang."""
    store = MemoryStore()
    calls = 0

    async def failing() -> tuple[bytes, float]:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.02)
        raise RuntimeError("holder died")

    async def working() -> tuple[bytes, float]:
        nonlocal calls
        calls += 1
        return b"document", 60

    holder = asyncio.ensure_future(shared_fetch(store, "k", failing, lease_ttl=5))
    await asyncio.sleep(0)
    waiters = [shared_fetch(store, "k", working, lease_ttl=5, poll=0.005) for _ in range(3)]
    results = await asyncio.gather(*waiters)
    with pytest.raises(RuntimeError):
        await holder
    assert [doc for doc, _ in results] == [b"document"] * 3
    assert calls <= 1 + 3
    assert sum(fetched for _, fetched in results) == 1  # the next lease holder shared its answer


async def test_expired_lease_lets_a_waiter_fetch() -> None:
    """A lease whose holder vanished without releasing it expires; a waiter then fetches."""
    store = MemoryStore()
    await store.set_if_absent("k:lease", b"1", 0.05)  # a holder that died holding the lease

    async def fetch() -> tuple[bytes, float]:
        return b"fresh", 60

    document, fetched = await shared_fetch(store, "k", fetch, lease_ttl=0.05, poll=0.01)
    assert (document, fetched) == (b"fresh", True)
    assert await store.get("k") == b"fresh"


class DownStore(MemoryStore):
    """A store whose backend is unreachable."""

    async def get(self, key: str) -> bytes | None:
        raise StoreUnavailable("down")

    async def set_if_absent(self, key: str, value: bytes, ttl: float) -> bool:
        raise StoreUnavailable("down")

    async def set(self, key: str, value: bytes, ttl: float) -> None:
        raise StoreUnavailable("down")

    async def delete(self, key: str) -> None:
        raise StoreUnavailable("down")


async def test_unreachable_store_does_not_stop_verification(server: IntrospectionServer) -> None:
    """With the shared store down, tokens are still introspected directly (it is only a cache)."""
    async with server.verifier(store=DownStore()) as verifier:
        claims = await verifier.verify(server.mint_opaque())
    assert claims.client_id == server.local.client_id
    assert server.count("/v1/introspect") == 1


class _HolderFinishesBetweenReads(MemoryStore):
    """A store where the lease holder publishes and releases right after a waiting worker's miss."""

    misses = 0

    async def get(self, key: str) -> bytes | None:
        found = await super().get(key)
        if key == "k" and found is None:
            self.misses += 1
        if self.misses == 2 and key == "k" and await super().get("k:lease") == b"other":
            await self.set("k", b"published", 60)  # the holder's document...
            await self.delete("k:lease")  # ...then its release, before our lease read
        return found


@pytest.mark.anyio
async def test_a_document_published_between_a_waiters_reads_is_not_fetched_again() -> None:
    """A waiter that wins the lease after the holder finished uses the document, no second fetch."""
    store = _HolderFinishesBetweenReads()
    await store.set("k:lease", b"other", 5)
    calls = 0

    async def fetch() -> tuple[bytes, float]:
        nonlocal calls
        calls += 1
        return b"mine", 60

    document, fetched = await shared_fetch(store, "k", fetch, lease_ttl=5, poll=0.001)
    assert (document, fetched, calls) == (b"published", False, 0)
    assert await store.get("k:lease") is None  # the lease it took is released
