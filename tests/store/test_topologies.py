"""RedisStore on a Redis Cluster and on Sentinel: configuration, replays, failover."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import AsyncIterator

import httpx
import pytest
from redis.asyncio.cluster import RedisCluster
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

    async def run_until_recovered(self, started: float) -> tuple[list[int], float]:
        """Requests every 20 ms until 30 DPoP requests in a row succeed; statuses and downtime.

        Every DPoP answer must be 200 or a 503 with Retry-After, every Bearer answer 200.
        """
        statuses: list[int] = []
        streak, last_failure = 0, started
        while streak < 30:
            assert time.monotonic() - started < FAILOVER_LIMIT, statuses[-50:]
            response = await self.dpop()
            statuses.append(response.status_code)
            assert response.status_code in (200, 503), response.text
            if response.status_code == 503:
                assert response.headers["retry-after"] == "1"
                streak, last_failure = 0, time.monotonic()
            else:
                streak += 1
            assert (await self.plain()).status_code == 200
            await asyncio.sleep(0.02)
        return statuses, last_failure - started


@pytest.fixture
async def cluster_fleet(redis_cluster: ClusterSet) -> AsyncIterator[Fleet]:
    """A Fleet on the session's cluster; the killed node is restarted (as a replica) after."""
    store = RedisStore(redis_cluster.url, timeout=0.3)
    fleet = Fleet(store)
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
    statuses, downtime = await fleet.run_until_recovered(started)
    assert 503 in statuses  # a third of the slots lost their primary for a while
    assert downtime < FAILOVER_WINDOW
    assert len(redis_cluster.primaries()) == 3  # a replica took the dead one's slots
    # Recovered by itself: the same store, and a replay is still refused.
    headers = fleet.key.headers("GET", URL, fleet.bound)
    first = await fleet.client.get("/me", headers=headers)
    again = await fleet.client.get("/me", headers=headers)
    assert (first.status_code, again.status_code) == (200, 401)


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
    statuses, downtime = await fleet.run_until_recovered(started)
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
