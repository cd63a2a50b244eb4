"""One introspection per token: single-flight in a process, a lease across a shared store.

Each test runs through both sides (the ``driver`` fixture): ``verify`` in the
event loop and ``verify_sync`` in threads, and the lease flow under both drivers.
"""

from __future__ import annotations

import asyncio
import hashlib

import anyio
import httpx
import pytest

from okta_bearer import IntrospectionUnavailable
from okta_bearer._flow import Flow, Pause
from okta_bearer._store.lease import Fetched
from okta_bearer._store.memory import MemoryStore, StoreUnavailable
from okta_bearer._testing.opaque import IntrospectionServer

from .conftest import Delayed, Driver, HookedStore, introspections_take

pytestmark = pytest.mark.anyio


def _slow(server: IntrospectionServer, delay: float = 0.05) -> Delayed:
    # Keep the first request in flight while the others arrive.
    return Delayed(server.handler, introspections_take(delay))


async def test_fifty_concurrent_cold_requests_make_one_call(
    server: IntrospectionServer, driver: Driver
) -> None:
    """50 concurrent verifications of one new opaque token cause one introspection."""
    token = server.mint_opaque()
    async with server.verifier(transport=_slow(server)) as verifier:
        results = await asyncio.gather(*(driver.verify(verifier, token) for _ in range(50)))
    assert {claims.jti for claims in results} == {results[0].jti}
    assert server.count("/v1/introspect") == 1


async def test_concurrent_failure_reaches_every_waiter(
    server: IntrospectionServer, driver: Driver
) -> None:
    """When the one shared call fails, every waiter gets 503 (and no second call is made)."""
    server.answer_override = httpx.Response(502)
    token = server.mint_opaque()
    async with server.verifier(transport=_slow(server)) as verifier:
        results = await asyncio.gather(
            *(driver.verify(verifier, token) for _ in range(20)), return_exceptions=True
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


async def test_shared_store_answers_another_worker(
    server: IntrospectionServer, driver: Driver
) -> None:
    """Two verifiers (two workers) sharing a store: the second answers without a call."""
    store = MemoryStore()
    token = server.mint_opaque()
    async with server.verifier(store=store) as one, server.verifier(store=store) as two:
        await driver.verify(one, token)
        claims = await driver.verify(two, token)
    assert claims.client_id == server.local.client_id
    assert server.count("/v1/introspect") == 1


async def test_an_async_worker_and_a_sync_worker_share_answers(
    server: IntrospectionServer,
) -> None:
    """An ASGI worker's answer in the shared store serves a WSGI worker (one store, two faces)."""
    store = MemoryStore()
    token = server.mint_opaque()
    async with server.verifier(store=store) as one, server.verifier(store=store) as two:
        await Driver("async").verify(one, token)
        claims = await Driver("sync").verify(two, token)
    assert claims.client_id == server.local.client_id
    assert server.count("/v1/introspect") == 1


async def test_store_holds_a_hash_never_the_token(
    server: IntrospectionServer, driver: Driver
) -> None:
    """The shared store is keyed by SHA-256 of the token and never holds the token itself."""
    store = MemoryStore()
    token = server.mint_opaque()
    async with server.verifier(store=store) as verifier:
        await driver.verify(verifier, token)
    keys = [k for k in store._data if ":rate:" not in k]  # the call budget's counter aside
    assert len(keys) == 1
    assert all(token not in k for k in store._data)
    assert keys[0].endswith(hashlib.sha256(token.encode()).hexdigest())
    assert token not in keys[0]
    value = await store.get(keys[0])
    assert value is not None
    assert token.encode() not in value


async def test_workers_sharing_a_store_make_one_call_together(
    server: IntrospectionServer, driver: Driver
) -> None:
    """Four workers sharing a store, each with concurrent requests, cause one introspection."""
    store = MemoryStore()
    token = server.mint_opaque()
    workers = [server.verifier(store=store, transport=_slow(server)) for _ in range(4)]
    try:
        results = await asyncio.gather(
            *(driver.verify(w, token) for w in workers for _ in range(10))
        )
    finally:
        for worker in workers:
            await worker.aclose()
    assert len(results) == 40
    assert server.count("/v1/introspect") == 1


async def test_lease_holder_death_costs_one_fetch_per_waiter(driver: Driver) -> None:
    """If the lease holder fails, each waiter fetches once itself: no stampede, no hang."""
    store = MemoryStore()
    calls = 0

    def failing() -> Flow[Fetched]:
        nonlocal calls
        calls += 1
        yield Pause(0.05)
        raise RuntimeError("holder died")

    def working() -> Flow[Fetched]:
        nonlocal calls
        calls += 1
        return b"document", 60
        yield  # a flow: a generator

    holder = asyncio.ensure_future(driver.lease(store, "k", failing, lease_ttl=5))
    with anyio.fail_after(5):
        while await store.get("k:lease") is None:  # noqa: ASYNC110 - the holder has its lease
            await asyncio.sleep(0.001)
    waiters = [driver.lease(store, "k", working, lease_ttl=5, poll=0.005) for _ in range(3)]
    results = await asyncio.gather(*waiters)
    with pytest.raises(RuntimeError):
        await holder
    assert [doc for doc, _ in results] == [b"document"] * 3
    assert calls <= 1 + 3
    assert sum(fetched for _, fetched in results) == 1  # the next lease holder shared its answer


async def test_expired_lease_lets_a_waiter_fetch(driver: Driver) -> None:
    """A lease whose holder vanished without releasing it expires; a waiter then fetches."""
    store = MemoryStore()
    await store.set_if_absent("k:lease", b"1", 0.05)  # a holder that died holding the lease

    def fetch() -> Flow[Fetched]:
        return b"fresh", 60
        yield  # a flow: a generator

    document, fetched = await driver.lease(store, "k", fetch, lease_ttl=0.05, poll=0.01)
    assert (document, fetched) == (b"fresh", True)
    assert await store.get("k") == b"fresh"


def _down(_store: HookedStore, _method: str, _key: str) -> None:
    raise StoreUnavailable("down")


async def test_unreachable_store_does_not_stop_verification(
    server: IntrospectionServer, driver: Driver
) -> None:
    """With the shared store down, tokens are still introspected directly (it is only a cache)."""
    async with server.verifier(store=HookedStore(_down)) as verifier:
        claims = await driver.verify(verifier, server.mint_opaque())
    assert claims.client_id == server.local.client_id
    assert server.count("/v1/introspect") == 1


def _holder_finishes_after_second_miss(store: HookedStore, method: str, key: str) -> None:
    """The lease holder publishes and releases right after a waiting worker's second miss."""
    if method == "get" and key == "k" and store.plain.get("k") is None:
        store.misses += 1
    if store.misses == 2 and key == "k:lease" and store.plain.get(key) == b"other":
        store.plain.set("k", b"published", 60)  # the holder's document...
        store.plain.delete("k:lease")  # ...then its release, before our lease read


async def test_a_document_published_between_a_waiters_reads_is_not_fetched_again(
    driver: Driver,
) -> None:
    """A waiter that wins the lease after the holder finished uses the document, no second fetch."""
    store = HookedStore(_holder_finishes_after_second_miss)
    await store.set("k:lease", b"other", 5)
    calls = 0

    def fetch() -> Flow[Fetched]:
        nonlocal calls
        calls += 1
        return b"mine", 60
        yield  # a flow: a generator

    document, fetched = await driver.lease(store, "k", fetch, lease_ttl=5, poll=0.001)
    assert (document, fetched, calls) == (b"published", False, 0)
    assert await store.get("k:lease") is None  # the lease it took is released


def _holder_finishes_before_first_lease(store: HookedStore, method: str, key: str) -> None:
    """The holder publishes and releases between a new request's first read and its lease."""
    if method == "set_if_absent" and key == "k:lease" and store.plain.get(key) == b"other":
        store.plain.set("k", b"published", 60)
        store.plain.delete("k:lease")


async def test_a_document_published_before_the_first_lease_is_not_fetched_again(
    driver: Driver,
) -> None:
    """A first read that raced the holder's publication: the lease is won, the store read again."""
    store = HookedStore(_holder_finishes_before_first_lease)
    await store.set("k:lease", b"other", 5)  # a holder is fetching; "k" is not there yet
    calls = 0

    def fetch() -> Flow[Fetched]:
        nonlocal calls
        calls += 1
        return b"mine", 60
        yield  # a flow: a generator

    document, fetched = await driver.lease(store, "k", fetch, lease_ttl=5, poll=0.001)
    assert (document, fetched, calls) == (b"published", False, 0)
    assert await store.get("k:lease") is None  # the lease it took is released
