"""RedisStore on a Redis Cluster and on Sentinel: configuration, replays, failover."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from redis.asyncio.cluster import ClusterNode, RedisCluster
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.cluster import ClusterNode as SyncClusterNode
from redis.cluster import RedisCluster as SyncRedisCluster
from redis.retry import Retry as SyncRetry
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from okta_bearer import BearerAuthMiddleware, ConfigurationError, DPoPSettings
from okta_bearer._dpop.guard import DPoPGuard
from okta_bearer._dpop.proof import InvalidDPoPProof
from okta_bearer._store.memory import StoreUnavailable
from okta_bearer._testing.dpop import DPoPKey
from okta_bearer.redis_store import RedisStore
from okta_bearer.testing import IntrospectionServer, LocalIssuer

from ..dpop.test_replicas import _check as check_proof
from ._hostile import fake_cluster_node
from ._topologies import ClusterSet, SentinelSet

pytestmark = pytest.mark.anyio

BASE = "https://api.example.test"
URL = f"{BASE}/me"
#: The URL check_proof (tests/dpop/test_replicas.py) builds its request for.
PROOF_URL = f"{BASE}/items"
# A failover must be over well within this (cluster-node-timeout and
# down-after-milliseconds are 1 s in the fixtures).
FAILOVER_LIMIT = 20.0
# DPoP 503s stop within this of the kill (measured: about 2 s for both).
FAILOVER_WINDOW = 8.0
FACES = ("async", "sync")


# -- configuration --------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "options", "message"),
    [
        ("redis+cluster://127.0.0.1:7000/?read_from_replicas=1", {}, "url: unknown option"),
        ("redis+cluster://127.0.0.1:7000/1", {}, "url: a Redis Cluster has only database 0"),
        ("redis+cluster://127.0.0.1:99999/", {}, "url: a node's port"),
        ("redis+cluster://:7000/", {}, "url: every node needs a host"),
        ("redis+cluster:///", {}, "url: names no node"),
        ("redis+sentinel://127.0.0.1:26379", {}, "url: must end in /<service name>"),
        ("redis+sentinel://127.0.0.1:26379/svc/x", {}, "url: the database"),
        ("redis+sentinel://127.0.0.1:26379/svc/0/extra", {}, "url: must end in"),
        ("redis+sentinel://127.0.0.1:26379/svc?master=x", {}, "url: unknown option 'master'"),
        ("redis+nonsense://127.0.0.1/", {}, "url: must be a redis://"),
        ("redis://127.0.0.1:6379/0", {"replica_acks": -1}, "replica_acks"),
        ("redis://127.0.0.1:6379/0", {"replica_acks": True}, "replica_acks"),
        ("redis://127.0.0.1:6379/0", {"replica_acks": 10**400}, "replica_acks"),
        ("redis://127.0.0.1:6379/0", {"replica_acks": 1.0}, "replica_acks"),
        ("redis://127.0.0.1:6379/0", {"client": object()}, "url: give either"),
    ],
)
def test_bad_topology_configuration_names_the_option(
    url: str, options: dict[str, object], message: str
) -> None:
    """A malformed cluster or Sentinel URL or option raises ConfigurationError naming it."""
    with pytest.raises(ConfigurationError, match=f"^{message}"):
        RedisStore(url, **options)  # type: ignore[arg-type]


def test_client_must_be_a_redis_py_async_client() -> None:
    """client= takes redis.asyncio.Redis or RedisCluster only, and needs no url."""
    with pytest.raises(ConfigurationError, match=r"^client:"):
        RedisStore(client=object())
    with pytest.raises(ConfigurationError, match=r"^url: give either"):
        RedisStore()


def test_dpop_settings_take_cluster_and_sentinel_urls() -> None:
    """DPoPSettings(store=<cluster or Sentinel URL>) builds a RedisStore on that topology."""
    cluster = DPoPSettings(store="redis+cluster://127.0.0.1:7000/").replay_store
    sentinel = DPoPSettings(store="redis+sentinel://127.0.0.1:26379/svc").replay_store
    assert isinstance(cluster, RedisStore)
    assert isinstance(cluster._client, RedisCluster)
    assert isinstance(sentinel, RedisStore)
    with pytest.raises(ConfigurationError, match=r"^store: url: unknown option 'x'"):
        DPoPSettings(store="redis+cluster://127.0.0.1:7000/?x=1")


def test_the_url_password_never_shows_in_configuration_errors() -> None:
    """A refused cluster URL's error does not repeat the password it carried."""
    with pytest.raises(ConfigurationError) as caught:
        RedisStore("redis+cluster://u:hunter2-secret@127.0.0.1:7000/?x=1")
    assert "hunter2" not in str(caught.value)


async def test_a_built_cluster_client_is_used_and_left_open(redis_cluster: ClusterSet) -> None:
    """RedisStore(client=RedisCluster(...)) works through that client and does not close it."""
    node = redis_cluster.nodes[0]
    client = RedisCluster(host="127.0.0.1", port=node.port)
    try:
        store = RedisStore(client=client, timeout=2.0)
        assert await store.set_if_absent("built", b"v", 60)
        await store.aclose()
        assert await client.get("okta_bearer:built") == b"v"
    finally:
        await client.aclose()


# -- one slot per operation, replays across workers ------------------------------


async def test_every_flow_of_the_library_runs_on_a_cluster(redis_cluster: ClusterSet) -> None:
    """Key sets, introspection (answers, leases, budget) and DPoP marks all work on a Cluster.

    A command or script naming keys of two slots would fail with CROSSSLOT here.
    """
    store = RedisStore(redis_cluster.url, timeout=2.0)
    await store._client.flushdb()
    try:
        issuer, key = LocalIssuer(), DPoPKey()
        async with issuer.verifier(store=store) as verifier:
            await verifier.verify(issuer.mint())
        server = IntrospectionServer(issuer)
        async with server.verifier(store=store) as introspection:
            await introspection.verify(server.mint_opaque())
        headers = key.headers("GET", PROOF_URL, issuer.mint(cnf={"jkt": key.jkt}))
        await check_proof(DPoPGuard(DPoPSettings(store=store)), issuer, headers)
        kinds = set()
        async for name in store._client.scan_iter(match="okta_bearer:*"):
            kinds.add(name.decode().split(":")[1])
        assert kinds == {"keys", "introspection", "dpop"}
    finally:
        await store.aclose()


@pytest.mark.parametrize("topology", ["cluster", "sentinel"])
async def test_a_proof_replayed_through_another_worker_is_refused(
    topology: str, request: pytest.FixtureRequest
) -> None:
    """Two workers (two RedisStore clients) share replay marks: the second use is refused."""
    url = request.getfixturevalue(f"redis_{topology}").url
    workers = [RedisStore(url, timeout=2.0) for _ in range(2)]
    try:
        issuer, key = LocalIssuer(), DPoPKey()
        headers = key.headers("GET", PROOF_URL, issuer.mint(cnf={"jkt": key.jkt}))
        first, second = (DPoPGuard(DPoPSettings(store=w)) for w in workers)
        assert (await check_proof(first, issuer, headers)).jkt == key.jkt
        with pytest.raises(InvalidDPoPProof, match="replayed"):
            await check_proof(second, issuer, headers)
    finally:
        for worker in workers:
            await worker.aclose()


# -- failover --------------------------------------------------------------------


async def _me(request: Request) -> PlainTextResponse:
    return PlainTextResponse("ok")


class Fleet:
    """One app behind the middleware, with a DPoP replay store, and a request loop."""

    def __init__(self, store: RedisStore) -> None:
        self.issuer, self.key = LocalIssuer(), DPoPKey()
        app = Starlette(
            routes=[Route("/me", _me)],
            middleware=[
                Middleware(
                    BearerAuthMiddleware,
                    self.issuer.verifier(),
                    dpop=DPoPSettings(store=store, retry_after=1),
                )
            ],
        )
        self.client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE)
        self.bound = self.issuer.mint(cnf={"jkt": self.key.jkt})
        self.bearer = self.issuer.mint()

    async def dpop(self) -> httpx.Response:
        """A request with a fresh proof."""
        return await self.client.get("/me", headers=self.key.headers("GET", URL, self.bound))

    async def plain(self) -> httpx.Response:
        """A Bearer request (no store involved)."""
        return await self.client.get("/me", headers={"authorization": f"Bearer {self.bearer}"})

    async def run_until_recovered(
        self, started: float, promoted: Callable[[], bool] = lambda: False
    ) -> tuple[list[int], float, list[int]]:
        """Requests every 20 ms until 30 DPoP requests in a row succeed.

        Every DPoP answer must be 200 or a 503 with Retry-After, every Bearer
        answer 200.  Returns the statuses, the downtime, and the statuses of
        the requests sent once ``promoted()`` (polled until true) said so.
        """
        statuses: list[int] = []
        after: list[int] | None = None
        streak, last_failure = 0, started
        while streak < 30:
            assert time.monotonic() - started < FAILOVER_LIMIT, statuses[-50:]
            if after is None and promoted():
                after = []
            response = await self.dpop()
            statuses.append(response.status_code)
            if after is not None:
                after.append(response.status_code)
            assert response.status_code in (200, 503), response.text
            if response.status_code == 503:
                assert response.headers["retry-after"] == "1"
                streak, last_failure = 0, time.monotonic()
            else:
                streak += 1
            assert (await self.plain()).status_code == 200
            await asyncio.sleep(0.02)
        return statuses, last_failure - started, after or []


@pytest.fixture
async def cluster_fleet(redis_cluster: ClusterSet) -> AsyncIterator[Fleet]:
    """A Fleet on the session's cluster, serving before the test; the killed node is restarted
    (as a replica) after."""
    # An earlier test's freeze may have been long enough for a failover on a
    # loaded machine: the run starts from a cluster that serves, and a store
    # that has read its slot map (a cold client's first call can outlast 0.3 s).
    redis_cluster.wait_ok()
    store = RedisStore(redis_cluster.url, timeout=0.3)
    fleet = Fleet(store)
    for _ in range(75):  # up to about 15 s
        if (await fleet.dpop()).status_code == 200:
            break
        await asyncio.sleep(0.2)
    try:
        yield fleet
    finally:
        await fleet.client.aclose()
        await store.aclose()
        for node in redis_cluster.nodes:
            if node.process is None:
                node.start()
        redis_cluster.wait_ok()


async def test_cluster_primary_killed_dpop_503_then_recovers(
    cluster_fleet: Fleet, redis_cluster: ClusterSet
) -> None:
    """A cluster primary SIGKILLed mid-run: DPoP 200 or 503, Bearer 200; all 200 after promotion."""
    fleet = cluster_fleet
    for _ in range(10):
        assert (await fleet.dpop()).status_code == 200
    victim = redis_cluster.primaries()[0]
    victim.kill()
    started = time.monotonic()
    statuses, downtime, after = await fleet.run_until_recovered(started, redis_cluster.serving)
    assert 503 in statuses  # a third of the slots lost their primary for a while
    assert downtime < FAILOVER_WINDOW
    # Once the cluster serves with the promoted replica, not one more 503:
    # a slot map read before the promotion is refreshed and the call retried.
    assert after
    assert 503 not in after
    assert len(redis_cluster.primaries()) == 3  # a replica took the dead one's slots
    # Recovered by itself: the same store, and a replay is still refused.
    headers = fleet.key.headers("GET", URL, fleet.bound)
    first = await fleet.client.get("/me", headers=headers)
    again = await fleet.client.get("/me", headers=headers)
    assert (first.status_code, again.status_code) == (200, 401)


async def test_a_slot_map_read_before_the_promotion_costs_no_503_after_it(
    redis_cluster: ClusterSet,
) -> None:
    """A slot map naming the dead primary is refreshed and the call retried: no 503 after promotion.

    Both faces' clients refresh on errors at most once a minute here, so the
    map they read during the outage (still naming the dead primary) is what
    they hold after the promotion, as a worker does whose last paced refresh
    fell just before it.  The store refreshes and retries the call once;
    ``increment`` alone is not retried (it would count twice) and fails
    closed once.
    """
    seeds = [ClusterNode("127.0.0.1", node.port) for node in redis_cluster.nodes]
    sync_seeds = [
        SyncClusterNode("127.0.0.1", node.port)  # type: ignore[no-untyped-call]
        for node in redis_cluster.nodes
    ]
    # As RedisStore builds its own (one retry, no backoff), but with a paced refresh of 60 s.
    client = RedisCluster(
        startup_nodes=seeds,
        topology_refresh_min_interval=60,
        retry=Retry(NoBackoff(), 1),
        socket_timeout=0.5,
        socket_connect_timeout=0.5,
    )
    sync_client = SyncRedisCluster(
        startup_nodes=sync_seeds,
        topology_refresh_min_interval=60,
        retry=SyncRetry(NoBackoff(), 1),
        socket_timeout=0.5,
        socket_connect_timeout=0.5,
    )
    store = RedisStore(client=client, sync_client=sync_client, timeout=1.0)
    # One hash tag: every key of the test lives on the victim's slot.
    victim = redis_cluster.primary_for("okta_bearer:{stale}")
    try:
        for face in FACES:  # each face's map and pool know the victim
            await _on_face(store, face, "set", f"{{stale}}:{face}", b"warm", 60)
        victim.kill()
        for face in FACES:  # an outage: the paced refresh runs now and reads the old map
            with pytest.raises(StoreUnavailable):
                await _on_face(store, face, "get", f"{{stale}}:{face}")
        started = time.monotonic()
        while not redis_cluster.serving():
            assert time.monotonic() - started < FAILOVER_LIMIT, "no promotion in time"
            await asyncio.sleep(0.1)
        for face in FACES:
            counter, mark = f"{{stale}}:{face}:n", f"{{stale}}:{face}:mark"
            with pytest.raises(StoreUnavailable):
                await _on_face(store, face, "increment", counter, 60)
            assert await _on_face(store, face, "set_if_absent", mark, b"1", 60)
            assert await _on_face(store, face, "increment", counter, 60) == 1
    finally:
        await store.aclose()
        await client.aclose()
        sync_client.close()
        redis_cluster.restore()


@pytest.fixture
async def sentinel_fleet(redis_sentinel: SentinelSet) -> AsyncIterator[Fleet]:
    """A Fleet on the session's Sentinel set; the killed node is restarted (as a replica) after."""
    store = RedisStore(redis_sentinel.url, timeout=0.3)
    fleet = Fleet(store)
    try:
        yield fleet
    finally:
        await fleet.client.aclose()
        await store.aclose()
        redis_sentinel.restore()


async def test_sentinel_primary_killed_dpop_503_then_recovers(
    sentinel_fleet: Fleet, redis_sentinel: SentinelSet
) -> None:
    """The Sentinel-managed primary SIGKILLed: DPoP 503 until a replica is promoted, then 200."""
    fleet = sentinel_fleet
    for _ in range(10):
        assert (await fleet.dpop()).status_code == 200
    victim = redis_sentinel.current_primary()
    victim.kill()
    started = time.monotonic()
    statuses, downtime, _ = await fleet.run_until_recovered(started)
    assert 503 in statuses
    assert downtime < FAILOVER_WINDOW
    assert redis_sentinel.current_primary() is not victim


# -- replica acknowledgements ---------------------------------------------------


async def test_replica_acks_fail_closed_while_the_replica_is_frozen(
    redis_sentinel: SentinelSet,
) -> None:
    """replica_acks=1, replica frozen: a new mark is StoreUnavailable, a replay still refused."""
    strict = RedisStore(redis_sentinel.url, timeout=1.0, replica_acks=1)
    lax = RedisStore(redis_sentinel.url, timeout=1.0)
    replica = next(
        n for n in redis_sentinel.data_nodes if n is not redis_sentinel.current_primary()
    )
    try:
        assert await strict.set_if_absent("acked", b"v", 60)
        replica.pause()
        try:
            with pytest.raises(StoreUnavailable):
                await strict.set_if_absent("unacked", b"v", 60)
            assert not await strict.set_if_absent("acked", b"v", 60)  # a replay: refused
            assert await lax.set_if_absent("lax", b"v", 60)  # without WAIT, accepted
        finally:
            replica.resume()
        assert await strict.set_if_absent("acked-again", b"v", 60)
    finally:
        await strict.aclose()
        await lax.aclose()


async def _on_face(store: RedisStore, face: str, name: str, *args: object) -> Any:
    """``store.<name>(*args)`` through the async face, or the blocking one in a thread."""
    if face == "async":
        return await getattr(store, name)(*args)
    return await asyncio.to_thread(getattr(store.sync, name), *args)


@pytest.mark.parametrize("face", ["async", "sync"])
async def test_cluster_replica_acks_wait_on_the_primary_that_owns_the_key(
    face: str, redis_cluster: ClusterSet
) -> None:
    """replica_acks=1 on a Cluster: WAIT counts the key's own primary's replica, nobody else's.

    One primary's replica frozen: a mark on that primary fails closed (and
    stays a replay), a mark on another primary is acknowledged.
    """
    strict = RedisStore(redis_cluster.url, timeout=2.0, replica_acks=1)
    lax = RedisStore(redis_cluster.url, timeout=2.0)
    frozen_primary, other_primary = redis_cluster.primaries()[:2]
    frozen = redis_cluster.key_on(frozen_primary, f"okta_bearer:acks-{face}-")
    healthy = redis_cluster.key_on(other_primary, f"okta_bearer:acks-{face}-")
    frozen, healthy = frozen.removeprefix("okta_bearer:"), healthy.removeprefix("okta_bearer:")
    replica = redis_cluster.replica_of(frozen_primary)
    try:
        await strict.delete(frozen)
        await strict.delete(healthy)
        # Both clients learn the slot map before the freeze: what is measured
        # below is WAIT, not a cold client's start-up on a loaded machine.
        await _on_face(lax, face, "delete", frozen + "-lax")
        replica.pause()
        try:
            with pytest.raises(StoreUnavailable):
                await _on_face(strict, face, "set_if_absent", frozen, b"1", 60)
            assert not await _on_face(strict, face, "set_if_absent", frozen, b"1", 60)
            assert await _on_face(strict, face, "set_if_absent", healthy, b"1", 60)
            assert await _on_face(lax, face, "set_if_absent", frozen + "-lax", b"1", 60)
        finally:
            replica.resume()
    finally:
        await strict.aclose()
        await lax.aclose()


async def test_cluster_marks_acknowledged_by_a_replica_survive_the_primary_kill(
    redis_cluster: ClusterSet,
) -> None:
    """replica_acks=1: marks written through either face survive SIGKILL of their primary.

    After the promotion the new primary has no replica until the old one
    rejoins, so a new strict mark fails closed there meanwhile.
    """
    redis_cluster.wait_replicated()
    strict = RedisStore(redis_cluster.url, timeout=1.0, replica_acks=1)
    victim = redis_cluster.primaries()[0]
    keys = {
        face: redis_cluster.key_on(victim, f"okta_bearer:survive-{face}-").removeprefix(
            "okta_bearer:"
        )
        for face in ("async", "sync")
    }
    try:
        for face, key in keys.items():
            await strict.delete(key)
            assert await _on_face(strict, face, "set_if_absent", key, b"1", 60)
        victim.kill()
        started = time.monotonic()
        while not redis_cluster.serving():
            assert time.monotonic() - started < FAILOVER_LIMIT, "no promotion in time"
            await asyncio.sleep(0.1)
        promoted = redis_cluster.primary_for("okta_bearer:" + keys["async"])
        for face, key in keys.items():
            for reader in ("async", "sync"):
                assert not await _on_face(strict, reader, "set_if_absent", key, b"1", 60)
            orphan = redis_cluster.key_on(promoted, f"okta_bearer:orphan-{face}-")
            with pytest.raises(StoreUnavailable):
                await _on_face(
                    strict, face, "set_if_absent", orphan.removeprefix("okta_bearer:"), b"1", 60
                )
    finally:
        await strict.aclose()
        redis_cluster.restore()


async def test_replica_acks_without_any_replica_fail_closed(redis_store: RedisStore) -> None:
    """replica_acks=1 on a server with no replica: every new mark is StoreUnavailable."""
    url = redis_store._client.connection_pool.connection_kwargs
    strict = RedisStore(f"redis://127.0.0.1:{url['port']}/0", timeout=0.3, replica_acks=1)
    try:
        with pytest.raises(StoreUnavailable):
            await strict.set_if_absent("alone", b"v", 60)
    finally:
        await strict.aclose()


# -- hostile store replies -------------------------------------------------------


async def test_a_foreign_value_under_a_replay_mark_refuses_the_proof(
    redis_cluster: ClusterSet,
) -> None:
    """Anything already under a proof's mark (garbage, not our b"1") makes it a replay."""
    store = RedisStore(redis_cluster.url, timeout=2.0)
    try:
        issuer, key = LocalIssuer(), DPoPKey()
        headers = key.headers("GET", PROOF_URL, issuer.mint(cnf={"jkt": key.jkt}))
        jti = json.loads(base64.urlsafe_b64decode(headers["dpop"].split(".")[1] + "=="))["jti"]
        await store.set(f"dpop:{key.jkt}:{jti}", b"\xff foreign \x00", 60)
        with pytest.raises(InvalidDPoPProof, match="replayed"):
            await check_proof(DPoPGuard(DPoPSettings(store=store)), issuer, headers)
    finally:
        await store.aclose()


async def test_foreign_values_under_shared_keys_and_answers_are_refetched(
    redis_cluster: ClusterSet,
) -> None:
    """Garbage under a shared key set or introspection answer: the next worker refetches."""
    store = RedisStore(redis_cluster.url, timeout=2.0)
    await store._client.flushdb()
    try:
        issuer = LocalIssuer()
        server = IntrospectionServer(issuer)
        token, opaque = issuer.mint(), server.mint_opaque()
        async with issuer.verifier(store=store) as verifier:
            await verifier.verify(token)
        async with server.verifier(store=store) as introspection:
            await introspection.verify(opaque)
        async for name in store._client.scan_iter(match="okta_bearer:*"):
            if not name.endswith(b":lease") and b":rate:" not in name:
                await store._client.set(name, b"\x00not json{", px=60_000)
        async with issuer.verifier(store=store) as verifier:
            assert (await verifier.verify(token)).raw["sub"]
        async with server.verifier(store=store) as introspection:
            assert (await introspection.verify(opaque)).raw["sub"]
    finally:
        await store.aclose()


@pytest.mark.parametrize("behaviour", ["MOVED", "ASK", "slow"])
async def test_redirection_storms_and_slow_nodes_give_503(behaviour: str) -> None:
    """A node answering MOVED or ASK forever, or too slowly: DPoP 503, Bearer 200, never 500."""
    async with fake_cluster_node(behaviour) as port:
        store = RedisStore(f"redis+cluster://127.0.0.1:{port}/", timeout=0.3)
        fleet = Fleet(store)
        try:
            started = time.monotonic()
            with pytest.raises(StoreUnavailable):
                await store.set_if_absent("k", b"v", 60)
            assert time.monotonic() - started < 2.0  # within the timeout, not a hang
            response = await fleet.dpop()
            assert response.status_code == 503
            assert response.headers["retry-after"] == "1"
            assert (await fleet.plain()).status_code == 200
        finally:
            await fleet.client.aclose()
            await store.aclose()


async def test_a_cluster_url_to_a_plain_server_is_store_unavailable(
    redis_store: RedisStore,
) -> None:
    """redis+cluster:// at a non-cluster server: StoreUnavailable, not redis-py's own exception."""
    port = redis_store._client.connection_pool.connection_kwargs["port"]
    store = RedisStore(f"redis+cluster://127.0.0.1:{port}/", timeout=0.5)
    try:
        with pytest.raises(StoreUnavailable):
            await store.get("k")
    finally:
        await store.aclose()


async def test_a_frozen_cluster_primary_gives_store_unavailable_in_time(
    redis_cluster: ClusterSet,
) -> None:
    """A primary that stops answering (SIGSTOP, shorter than a failover): StoreUnavailable soon."""
    store = RedisStore(redis_cluster.url, timeout=0.5)
    try:
        await store.set("warm", b"v", 60)
        victim = redis_cluster.primary_for("okta_bearer:frozen")
        victim.pause()
        try:
            started = time.monotonic()
            with pytest.raises(StoreUnavailable):
                await store.set_if_absent("frozen", b"v", 60)
            assert time.monotonic() - started < 2.0
        finally:
            victim.resume()
        # The write it timed out on may still land once the node wakes (it was
        # sent): a retried proof is then refused, the safe side.
        assert await store.set_if_absent("thawed", b"v", 60)
    finally:
        await store.aclose()


async def test_a_mark_the_replica_never_saw_is_lost_in_failover_unless_acknowledged(
    sentinel_fleet: Fleet, redis_sentinel: SentinelSet
) -> None:
    """The window: a mark the replica never got dies with the primary; replica_acks=1 refuses it.

    The replica is frozen and its link cut first: frozen alone, it would still find the
    replication stream in its socket buffer when it wakes.
    """
    lax = RedisStore(redis_sentinel.url, timeout=1.0)
    strict = RedisStore(redis_sentinel.url, timeout=1.0, replica_acks=1)
    primary = redis_sentinel.current_primary()
    replica = next(n for n in redis_sentinel.data_nodes if n is not primary)
    try:
        await lax.get("warm")
        await strict.get("warm")
        replica.pause()  # replication stalls: the primary acknowledges alone
        try:
            await lax._client.execute_command("CLIENT", "KILL", "TYPE", "replica")
            assert await lax.set_if_absent("window", b"1", 60)
            with pytest.raises(StoreUnavailable):
                await strict.set_if_absent("strict", b"1", 60)
            primary.kill()
        finally:
            replica.resume()
        started = time.monotonic()
        while True:
            assert time.monotonic() - started < FAILOVER_LIMIT
            try:
                accepted_again = await lax.set_if_absent("window", b"1", 60)
                break
            except StoreUnavailable:
                await asyncio.sleep(0.1)
        assert redis_sentinel.current_primary() is replica
        assert accepted_again  # the mark was lost: that proof would be accepted once more
    finally:
        await lax.aclose()
        await strict.aclose()
