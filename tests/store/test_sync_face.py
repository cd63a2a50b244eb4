"""RedisStore.sync, the blocking face: configuration, same data, threads, fork, hostile replies."""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Iterator

import pytest
import redis
import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster
from redis.cluster import RedisCluster as SyncRedisCluster

from okta_bearer import ConfigurationError
from okta_bearer._store.memory import StoreUnavailable, SyncStore, sync_face
from okta_bearer.redis_store import RedisStore

from ..servers import free_port
from ._hostile import fake_cluster_node
from ._server import RedisServer
from ._topologies import ClusterSet
from .conftest import redis_url

pytestmark = pytest.mark.anyio

TOPOLOGIES = ["redis", "cluster", "sentinel"]
# A blocking call has no one deadline: each network step is bounded by the
# timeout, and a retry or two may add steps.  Generous, to catch a hang only.
STEPS = 4


# -- configuration --------------------------------------------------------------


def test_a_store_from_a_built_client_has_no_blocking_face_without_sync_client() -> None:
    """RedisStore(client=...) without sync_client: .sync and sync_face() name sync_client."""
    store = RedisStore(client=aioredis.Redis(port=free_port()))
    with pytest.raises(ConfigurationError, match=r"^sync_client:"):
        _ = store.sync
    with pytest.raises(ConfigurationError, match=r"^sync_client:"):
        sync_face(store)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"url": "redis://127.0.0.1:1/0", "sync_client": redis.Redis()}, "give it with client"),
        ({"client": aioredis.Redis(), "sync_client": object()}, "must be a redis.Redis"),
        ({"client": aioredis.Redis(), "sync_client": aioredis.Redis()}, "must be a redis.Redis"),
        (
            {"client": aioredis.Redis(), "sync_client": redis.Redis(decode_responses=True)},
            "must not decode responses",
        ),
    ],
)
def test_bad_sync_client_names_the_option(options: dict[str, object], message: str) -> None:
    """A sync_client that cannot serve as the blocking face raises ConfigurationError naming it."""
    with pytest.raises(ConfigurationError, match=f"^sync_client: {message}"):
        RedisStore(**options)  # type: ignore[arg-type]


def test_a_sync_client_of_another_topology_is_refused() -> None:
    """A blocking cluster client beside a single-server client (or the reverse) is refused."""
    cluster = SyncRedisCluster.__new__(SyncRedisCluster)  # no network: only its type counts
    with pytest.raises(ConfigurationError, match=r"^sync_client: must be of the same topology"):
        RedisStore(client=aioredis.Redis(), sync_client=cluster)
    with pytest.raises(ConfigurationError, match=r"^sync_client: must be of the same topology"):
        RedisStore(client=RedisCluster("127.0.0.1", free_port()), sync_client=redis.Redis())


def test_a_client_that_decodes_responses_is_refused() -> None:
    """client= with decode_responses=True would mangle stored bytes: ConfigurationError."""
    with pytest.raises(ConfigurationError, match=r"^client: must not decode responses"):
        RedisStore(client=aioredis.Redis(decode_responses=True))


@pytest.mark.parametrize(
    "url",
    [
        "redis://127.0.0.1:{port}/0",
        "redis+cluster://127.0.0.1:{port}/",
        "redis+sentinel://127.0.0.1:{port}/svc",
    ],
)
def test_the_blocking_face_connects_on_first_use_only(url: str) -> None:
    """Building the store and reading .sync opens nothing; the first call to nowhere is 503-able."""
    store = RedisStore(url.format(port=free_port()), timeout=0.3)
    face = store.sync
    assert isinstance(face, SyncStore)
    assert sync_face(store) is face
    started = time.monotonic()
    with pytest.raises(StoreUnavailable):
        face.get("k")
    assert time.monotonic() - started < STEPS * 0.3 + 1


# -- the same data through both faces -------------------------------------------


@pytest.mark.parametrize("topology", TOPOLOGIES)
async def test_both_faces_share_keys_prefix_and_ttl(
    topology: str, request: pytest.FixtureRequest
) -> None:
    """A mark set through one face is a replay through the other; same prefix and PX."""
    store = RedisStore(redis_url(request, topology), timeout=2.0, prefix="app")
    try:
        face = store.sync
        assert await asyncio.to_thread(face.set_if_absent, "mark:1", b"1", 1.5)
        assert not await store.set_if_absent("mark:1", b"1", 60)
        assert await store.set_if_absent("mark:2", b"2", 60)
        assert not await asyncio.to_thread(face.set_if_absent, "mark:2", b"2", 60)
        assert await asyncio.to_thread(face.get, "mark:2") == b"2"
        assert 0 < await store._client.pttl("app:mark:1") <= 1500
        assert await asyncio.to_thread(face.increment, "count", 60) == 1
        assert await store.increment("count", 60) == 2
    finally:
        await store.aclose()


async def test_a_built_sync_client_is_used_and_left_open(redis_server: RedisServer) -> None:
    """RedisStore(client=..., sync_client=...): .sync uses that client and aclose leaves it open."""
    client = aioredis.Redis(port=redis_server.port)
    sync_client = redis.Redis(port=redis_server.port)
    try:
        store = RedisStore(client=client, sync_client=sync_client, timeout=2.0)
        assert await asyncio.to_thread(store.sync.set_if_absent, "built-sync", b"v", 60)
        await store.aclose()
        assert sync_client.get("okta_bearer:built-sync") == b"v"
    finally:
        sync_client.close()
        await client.aclose()


@pytest.mark.parametrize("topology", ["redis", "cluster"])
async def test_32_threads_racing_on_one_mark_one_wins(
    topology: str, request: pytest.FixtureRequest
) -> None:
    """32 threads calling set_if_absent on one key at once through one face: exactly one True."""
    store = RedisStore(redis_url(request, topology), timeout=5.0)
    face = store.sync
    barrier = threading.Barrier(32)
    results: list[bool] = []

    def race() -> None:
        barrier.wait()
        results.append(face.set_if_absent(f"threads:{topology}", b"v", 60))

    try:
        threads = [threading.Thread(target=race) for _ in range(32)]
        for thread in threads:
            thread.start()

        def join_all() -> None:
            for thread in threads:
                thread.join(30)

        await asyncio.to_thread(join_all)
        assert sorted(results) == [False] * 31 + [True]
    finally:
        await store.aclose()


# -- outages and hostile replies -------------------------------------------------


def test_a_stopped_server_is_store_unavailable_and_recovery_follows(
    redis_server: RedisServer,
) -> None:
    """Server stopped: every blocking call raises StoreUnavailable; after a restart they work."""
    store = RedisStore(redis_server.url, timeout=0.5)
    face = store.sync
    try:
        assert face.set_if_absent("sync-before", b"v", 60)
        redis_server.stop()
        for call in (
            lambda: face.set_if_absent("k", b"v", 60),
            lambda: face.set("k", b"v", 60),
            lambda: face.get("k"),
            lambda: face.delete("k"),
            lambda: face.delete_if_equal("k", b"v"),
            lambda: face.increment("n", 60),
        ):
            with pytest.raises(StoreUnavailable) as caught:
                call()
            assert caught.value.__cause__ is None
        redis_server.start()
        assert face.set_if_absent("sync-after", b"v", 60)
    finally:
        face.close()
        if redis_server.process is None:
            redis_server.start()


def test_a_frozen_server_is_store_unavailable_in_bounded_time(redis_server: RedisServer) -> None:
    """A server that accepts but never answers (SIGSTOP): StoreUnavailable, not a hang."""
    store = RedisStore(redis_server.url, timeout=0.3)
    face = store.sync
    try:
        face.get("warm-up")  # a pooled connection exists before the freeze
        redis_server.pause()
        try:
            started = time.monotonic()
            with pytest.raises(StoreUnavailable):
                face.set_if_absent("frozen", b"v", 60)
            assert time.monotonic() - started < STEPS * 0.3
        finally:
            redis_server.resume()
    finally:
        face.close()


def test_the_password_never_shows_in_a_blocking_error() -> None:
    """A URL where nothing listens: StoreUnavailable whose text holds no password."""
    store = RedisStore(f"redis://u:hunter2-secret@127.0.0.1:{free_port()}/0", timeout=0.3)
    with pytest.raises(StoreUnavailable) as caught:
        store.sync.get("k")
    assert "hunter2" not in str(caught.value)


@pytest.mark.parametrize("face", ["async", "sync"])
async def test_foreign_values_under_our_keys_are_handled_alike(
    face: str, redis_store: RedisStore
) -> None:
    """Garbage under a mark is a replay; a list or a bad counter is StoreUnavailable: both faces."""
    client = redis_store._client
    await client.set("okta_bearer:mark", b"\xff foreign \x00")
    await client.rpush("okta_bearer:listed", b"x")
    await client.set("okta_bearer:counter", b"not a number")

    async def call(name: str, *args: object) -> object:
        if face == "async":
            return await getattr(redis_store, name)(*args)
        return await asyncio.to_thread(getattr(redis_store.sync, name), *args)

    assert await call("set_if_absent", "mark", b"1", 60) is False
    assert await call("get", "mark") == b"\xff foreign \x00"
    assert await call("delete_if_equal", "mark", b"1") is False
    for name, args in [
        ("get", ("listed",)),
        ("delete_if_equal", ("listed", b"x")),
        ("increment", ("counter", 60)),
    ]:
        with pytest.raises(StoreUnavailable):
            await call(name, *args)


@pytest.mark.parametrize("replica_acks", [0, 1])
@pytest.mark.parametrize("behaviour", ["MOVED", "ASK", "slow", "garbage"])
@pytest.mark.parametrize("face", ["async", "sync"])
async def test_hostile_cluster_nodes_give_store_unavailable_in_time(
    face: str, behaviour: str, replica_acks: int
) -> None:
    """A node answering MOVED/ASK forever, slowly, or with garbage: StoreUnavailable, both faces."""
    async with fake_cluster_node(behaviour) as port:
        store = RedisStore(
            f"redis+cluster://127.0.0.1:{port}/", timeout=0.3, replica_acks=replica_acks
        )
        try:
            for name, args in [
                ("set_if_absent", ("k", b"v", 60)),
                ("get", ("k",)),
                ("delete_if_equal", ("k", b"v")),
                ("increment", ("n", 60)),
            ]:
                started = time.monotonic()
                try:
                    if face == "async":
                        outcome = await getattr(store, name)(*args)
                    else:  # in a thread: the fake node answers on this event loop
                        outcome = await asyncio.to_thread(getattr(store.sync, name), *args)
                except StoreUnavailable as exc:
                    outcome = exc
                assert time.monotonic() - started < STEPS * 0.3 + 1, name
                if behaviour == "garbage" and name == "set_if_absent":
                    # redis-py reads an odd SET reply as "not stored": a replay, the safe side
                    assert outcome is False or isinstance(outcome, StoreUnavailable)
                else:
                    assert isinstance(outcome, StoreUnavailable), (name, outcome)
        finally:
            await store.aclose()


def test_a_frozen_cluster_primary_is_store_unavailable_through_the_blocking_face(
    redis_cluster: ClusterSet,
) -> None:
    """A cluster primary frozen (SIGSTOP, shorter than a failover): StoreUnavailable soon."""
    store = RedisStore(redis_cluster.url, timeout=0.5)
    face = store.sync
    try:
        face.set("warm", b"v", 60)
        victim = redis_cluster.primary_for("okta_bearer:frozen-sync")
        victim.pause()
        try:
            started = time.monotonic()
            with pytest.raises(StoreUnavailable):
                face.set_if_absent("frozen-sync", b"v", 60)
            assert time.monotonic() - started < STEPS * 0.5
        finally:
            victim.resume()
        assert face.set_if_absent("thawed-sync", b"v", 60)
    finally:
        face.close()


# -- fork ----------------------------------------------------------------------

CHILDREN = 3
ROUNDS = 100


def _hammer(face: SyncStore, me: str) -> None:
    """Write and read back ROUNDS values of our own: a reply meant for another process fails it."""
    for n in range(ROUNDS):
        face.set(f"fork:{me}:{n}", f"{me}:{n}".encode(), 60)
        assert face.get(f"fork:{me}:{n}") == f"{me}:{n}".encode()


def _child(face: SyncStore, me: str) -> int:
    """What a forked worker does; its exit code: 10 + whether it won the shared mark, or 1."""
    try:
        won = face.set_if_absent("fork:shared", me.encode(), 60)
        _hammer(face, me)
        return 10 + int(won)
    except BaseException:
        return 1


@pytest.fixture
def forkable(request: pytest.FixtureRequest) -> Iterator[RedisStore]:
    """A RedisStore on the topology named by the test's parameter, its keys cleared."""
    store = RedisStore(redis_url(request, request.param), timeout=2.0)
    client = redis.Redis.from_url(redis_url(request, "redis")) if request.param == "redis" else None
    if client is not None:
        client.flushdb()
        client.close()
    else:
        for key in ["fork:shared"]:
            store.sync.delete(key)
    yield store
    store.sync.close()


@pytest.mark.parametrize("forkable", TOPOLOGIES, indirect=True)
def test_a_store_used_before_fork_works_in_every_forked_child(forkable: RedisStore) -> None:
    """Used in the master, then forked: each child opens its own connections; the master too.

    The master and three children hammer their own keys at once; if any two
    shared a socket, replies would cross and a read-back would fail.
    """
    face = forkable.sync
    _hammer(face, "master-before")  # open pooled connections, then fork
    pids = []
    for i in range(CHILDREN):
        pid = os.fork()
        if pid == 0:  # the child: never return into pytest
            os._exit(_child(face, f"child{i}"))
        pids.append(pid)
    _hammer(face, "master-during")
    won = face.set_if_absent("fork:shared", b"master", 60)
    codes = [os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) for pid in pids]
    assert all(code in (10, 11) for code in codes), codes
    assert codes.count(11) + int(won) == 1  # one winner among four processes
    _hammer(face, "master-after")  # the children's exits did not close the master's sockets
