"""RedisStore against a real redis-server: atomicity across clients and processes, outages."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap

import pytest

from okta_bearer import ConfigurationError
from okta_bearer._dpop.guard import DPoPGuard
from okta_bearer._dpop.settings import DPoPSettings
from okta_bearer._store.memory import StoreUnavailable
from okta_bearer._testing.dpop import DPoPKey
from okta_bearer.redis_store import RedisStore
from okta_bearer.testing import IntrospectionServer, LocalIssuer

from ..dpop.test_replicas import _check as check_proof
from ..servers import free_port
from ._server import RedisServer

pytestmark = pytest.mark.anyio

# Generous hang guard: a call that is still running after this is hanging, not slow.
HANG_GUARD = 30.0


async def test_ttl_is_set_in_milliseconds(redis_store: RedisStore) -> None:
    """set_if_absent and set store the entry with PX = ttl, under the key prefix."""
    await redis_store.set_if_absent("a", b"v", 1.5)
    await redis_store.set("b", b"v", 60)
    ttl_a = await redis_store._client.pttl("okta_bearer:a")
    ttl_b = await redis_store._client.pttl("okta_bearer:b")
    assert 0 < ttl_a <= 1500
    assert 1500 < ttl_b <= 60_000


async def test_entry_expires_after_ttl(redis_store: RedisStore) -> None:
    """Once Redis expires the entry, the key can be claimed again."""
    assert await redis_store.set_if_absent("short", b"v", 0.05)
    while await redis_store.get("short") is not None:  # noqa: ASYNC110 - polling Redis itself
        await asyncio.sleep(0.02)
    assert await redis_store.set_if_absent("short", b"v", 60)


async def test_prefixes_keep_applications_apart(redis_server: RedisServer) -> None:
    """Two stores with different prefixes on one database do not see each other's keys."""
    first = RedisStore(redis_server.url, prefix="app1:")
    second = RedisStore(redis_server.url, prefix="app2:")
    try:
        assert await first.set_if_absent("shared", b"1", 60)
        assert await second.set_if_absent("shared", b"2", 60)
    finally:
        await first.aclose()
        await second.aclose()


async def test_two_clients_race_exactly_one_wins_per_key(redis_server: RedisServer) -> None:
    """Two RedisStores (separate pools) racing on 100 keys: each key is won exactly once."""
    stores = [RedisStore(redis_server.url, timeout=5) for _ in range(2)]
    try:
        keys = [f"race2:{i}" for i in range(100)]
        calls = [s.set_if_absent(k, b"v", 60) for k in keys for s in stores for _ in range(3)]
        results = await asyncio.gather(*calls)
        assert results.count(True) == len(keys)
    finally:
        for s in stores:
            await s.aclose()


_WORKER = textwrap.dedent(
    """
    import asyncio, sys
    from okta_bearer.redis_store import RedisStore

    async def main():
        store = RedisStore(sys.argv[1], timeout=10)
        calls = [store.set_if_absent(f"proc:{i}", b"v", 60) for i in range(200)]
        wins = await asyncio.gather(*calls)
        await store.aclose()
        print(sum(wins))

    asyncio.run(main())
    """
)


def test_four_processes_race_exactly_one_wins_per_key(redis_server: RedisServer) -> None:
    """Four OS processes racing on the same 200 keys win 200 times in total, not more."""
    if redis_server.process is None:
        redis_server.start()
    workers = [
        subprocess.Popen(  # noqa: S603 - our own interpreter and script
            [sys.executable, "-c", _WORKER, redis_server.url], stdout=subprocess.PIPE, text=True
        )
        for _ in range(4)
    ]
    wins = [int(w.communicate(timeout=120)[0]) for w in workers]
    assert [w.returncode for w in workers] == [0, 0, 0, 0]
    assert sum(wins) == 200


async def test_stopped_server_raises_store_unavailable(redis_server: RedisServer) -> None:
    """With the server stopped every call raises StoreUnavailable, and recovery follows restart."""
    store = RedisStore(redis_server.url, timeout=0.5)
    try:
        assert await store.set_if_absent("before", b"v", 60)
        redis_server.stop()
        for call in (
            store.set_if_absent("k", b"v", 60),
            store.set("k", b"v", 60),
            store.get("k"),
            store.delete("k"),
        ):
            with pytest.raises(StoreUnavailable):
                await asyncio.wait_for(call, HANG_GUARD)
        redis_server.start()
        assert await store.set_if_absent("after", b"v", 60)
    finally:
        await store.aclose()
        if redis_server.process is None:
            redis_server.start()


async def test_frozen_server_times_out_as_store_unavailable(redis_server: RedisServer) -> None:
    """A server that accepts but never answers (SIGSTOP) gives StoreUnavailable, not a hang."""
    store = RedisStore(redis_server.url, timeout=0.3)
    try:
        await store.get("warm-up")  # a pooled connection exists before the freeze
        redis_server.pause()
        try:
            with pytest.raises(StoreUnavailable):
                await asyncio.wait_for(store.set_if_absent("k", b"v", 60), HANG_GUARD)
        finally:
            redis_server.resume()
    finally:
        await store.aclose()


async def test_nothing_listening_raises_store_unavailable() -> None:
    """A URL where nothing listens is StoreUnavailable, and the password never shows."""
    store = RedisStore(f"redis://user:hunter2-secret@127.0.0.1:{free_port()}/0", timeout=0.5)
    try:
        with pytest.raises(StoreUnavailable) as caught:
            await asyncio.wait_for(store.get("k"), HANG_GUARD)
        assert "hunter2" not in str(caught.value)
        assert caught.value.__cause__ is None
    finally:
        await store.aclose()


@pytest.mark.parametrize(
    ("url", "options", "option"),
    [
        ("http://127.0.0.1:6379", {}, "url"),
        ("127.0.0.1:6379", {}, "url"),
        ("redis://127.0.0.1:6379", {"timeout": 0}, "timeout"),
        ("redis://127.0.0.1:6379", {"timeout": "1"}, "timeout"),
        ("redis://127.0.0.1:6379", {"max_connections": 0}, "max_connections"),
        ("redis://127.0.0.1:6379", {"prefix": None}, "prefix"),
    ],
)
def test_bad_configuration_names_the_option(
    url: str, options: dict[str, object], option: str
) -> None:
    """Invalid constructor arguments raise ConfigurationError naming the option."""
    with pytest.raises(ConfigurationError, match=f"^{option}"):
        RedisStore(url, **options)  # type: ignore[arg-type]


async def test_non_positive_ttl_refused(redis_store: RedisStore) -> None:
    """A TTL of zero would make a key that never expires in some backends; it is refused."""
    with pytest.raises(ValueError, match="ttl"):
        await redis_store.set_if_absent("k", b"v", 0)


async def test_pooled_connections_recover_after_a_restart(redis_server: RedisServer) -> None:
    """After a Redis restart each pooled connection's first call works: a dead one is replaced."""
    store = RedisStore(redis_server.url, timeout=0.5, max_connections=8)
    try:
        # Eight calls at once leave eight open connections in the pool.
        await asyncio.gather(*(store.set(f"warm-{i}", b"v", 60) for i in range(8)))
        redis_server.stop()
        redis_server.start()
        results = await asyncio.gather(
            *(store.set_if_absent(f"after-{i}", b"v", 60) for i in range(8))
        )
        assert results == [True] * 8
    finally:
        await store.aclose()


async def test_every_key_the_library_writes_reads_prefix_kind(redis_store: RedisStore) -> None:
    """Key sets, introspection answers and DPoP marks all read okta_bearer:<kind>:..."""
    issuer, key = LocalIssuer(), DPoPKey()
    async with issuer.verifier(store=redis_store) as verifier:
        await verifier.verify(issuer.mint())
    server = IntrospectionServer(issuer)
    async with server.verifier(store=redis_store) as introspection:
        await introspection.verify(server.mint_opaque())
    bound = issuer.mint(cnf={"jkt": key.jkt})
    headers = key.headers("GET", "https://api.example.test/items", bound)
    await check_proof(DPoPGuard(DPoPSettings(store=redis_store)), issuer, headers)
    keys = sorted(k.decode() for k in await redis_store._client.keys("*"))
    kinds = {k.split(":")[1] for k in keys}
    assert kinds == {"keys", "introspection", "dpop"}, keys
    assert all(k.startswith("okta_bearer:") for k in keys)
    assert not any(k.startswith("okta_bearer:okta_bearer:") for k in keys)


def test_prefix_is_one_segment_whatever_its_colon() -> None:
    """prefix="app" and prefix="app:" both give keys app:<kind>:...; "" gives none."""
    assert RedisStore("redis://127.0.0.1:1/0", prefix="app").prefix == "app:"
    assert RedisStore("redis://127.0.0.1:1/0", prefix="app:").prefix == "app:"
    assert RedisStore("redis://127.0.0.1:1/0", prefix="").prefix == ""
