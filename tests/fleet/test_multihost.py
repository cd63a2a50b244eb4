"""A simulated multi-host fleet: three hosts behind nginx, sharing a 3+3 Redis Cluster.

Each "host" is a uvicorn master with 2 workers on its own loopback port
(tests.fleet.api_app with DPoP on); Debian's nginx balances them round robin
(tests/fleet/_balancer.py) and names the host that served each answer in
``x-upstream``.  All six workers share the session's Redis Cluster
(``redis+cluster://``) for key sets and DPoP replay marks; the key server
counts discovery and JWKS fetches.  Opaque tokens go to three more hosts
(tests.fleet._fleet_app) behind a second nginx, on the same cluster, with the
dev issuer counting introspections.  The tests run in file order: the cold
start first, the primary kill last.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from okta_bearer.dev_issuer import DevClient, DevIssuer
from okta_bearer.testing import DPoPKey, LocalIssuer

from ..servers import UvicornProcess, loopback_socket, origin_of, serve
from ..store._topologies import ClusterSet
from ._balancer import Balancer
from .conftest import CountingSlowIntrospection, KeyServer

HOSTS = 3
WORKERS_PER_HOST = 2
# A failover must be over well within this (cluster-node-timeout is 1 s).
FAILOVER_LIMIT = 20.0
# How long the run goes on after the promotion.
STEADY = 2.0


@dataclass
class MultiHost:
    """The issuer, its counting key server, the hosts, the balancer and the cluster."""

    issuer: LocalIssuer
    keys: KeyServer
    hosts: list[UvicornProcess]
    balancer: Balancer
    cluster: ClusterSet

    @property
    def url(self) -> str:
        """The URL clients call (and DPoP proofs name): the balancer's."""
        return self.balancer.base_url + "/"

    @property
    def upstreams(self) -> set[str]:
        """Each host's address as nginx names it in ``x-upstream``."""
        return {f"127.0.0.1:{host.port}" for host in self.hosts}

    def logs(self) -> str:
        """Every host's log, for assertion messages."""
        return "\n".join(host.log.read_text() for host in self.hosts)


@pytest.fixture(scope="module")
def multihost(
    redis_cluster: ClusterSet, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[MultiHost]:
    """Three 2-worker hosts on the session's cluster behind nginx; killed nodes restarted after."""
    workdir = tmp_path_factory.mktemp("multihost")
    keys = KeyServer()
    with serve(keys) as key_server:
        keys.issuer = LocalIssuer(f"{key_server.base_url}/oauth2/default")
        env = {
            "FLEET_ISSUER": keys.issuer.issuer,
            "FLEET_REDIS_URL": redis_cluster.url,
            "FLEET_DPOP": "1",
        }
        hosts = start_hosts("tests.fleet.api_app:app", env, workdir)
        balancer = Balancer(workdir / "nginx", [f"127.0.0.1:{h.port}" for h in hosts])
        try:
            yield MultiHost(keys.issuer, keys, hosts, balancer, redis_cluster)
        finally:
            balancer.stop()
            for started in hosts:
                started.stop()
            for node in redis_cluster.nodes:
                if node.process is None:
                    node.start()
            redis_cluster.wait_ok()


def send_all(url: str, requests: list[dict[str, str]]) -> list[httpx.Response]:
    """``GET url`` once per header set, each on a fresh connection, all at once."""

    def call(headers: dict[str, str]) -> httpx.Response:
        with httpx.Client(trust_env=False, timeout=30) as client:
            response = client.get(url, headers=headers)
            response.read()
            return response

    with ThreadPoolExecutor(max_workers=len(requests)) as pool:
        return list(pool.map(call, requests))


def bearer(fleet: MultiHost) -> dict[str, str]:
    """Headers with a fresh Bearer token of the issuer's current key."""
    return {"authorization": f"Bearer {fleet.issuer.mint()}"}


def test_a_cold_fleet_fetches_discovery_and_jwks_once(multihost: MultiHost) -> None:
    """30 concurrent requests over 3 cold hosts cause one discovery and one JWKS fetch in all."""
    fleet = multihost
    responses = send_all(fleet.url, [bearer(fleet) for _ in range(30)])
    assert [r.status_code for r in responses] == [200] * 30, fleet.logs()
    assert {r.headers["x-upstream"] for r in responses} == fleet.upstreams
    assert (fleet.keys.counts["discovery"], fleet.keys.counts["jwks"]) == (1, 1)


def test_a_rotation_costs_the_whole_fleet_one_jwks_fetch(multihost: MultiHost) -> None:
    """New-kid tokens at every host after a rotation cause one more JWKS fetch, no discovery."""
    fleet = multihost
    warm = send_all(fleet.url, [bearer(fleet) for _ in range(6)])
    assert {r.status_code for r in warm} == {200}
    before = dict(fleet.keys.counts)
    fleet.issuer.rotate()
    responses = send_all(fleet.url, [bearer(fleet) for _ in range(30)])
    assert [r.status_code for r in responses] == [200] * 30, fleet.logs()
    assert {r.headers["x-upstream"] for r in responses} == fleet.upstreams
    assert fleet.keys.counts["jwks"] == before["jwks"] + 1
    assert fleet.keys.counts["discovery"] == before["discovery"]


def dpop_request(fleet: MultiHost) -> dict[str, str]:
    """Headers for one DPoP request: a bound token and a fresh proof for the balancer's URL."""
    key = DPoPKey()
    return key.headers("GET", fleet.url, fleet.issuer.mint(cnf={"jkt": key.jkt}))


def test_a_proof_replayed_to_another_host_is_refused(multihost: MultiHost) -> None:
    """A proof accepted by one host is refused as a replay by the other hosts."""
    fleet = multihost
    headers = dpop_request(fleet)
    with httpx.Client(trust_env=False, timeout=30) as client:
        first = client.get(fleet.url, headers=headers)
        # Round robin: the next requests go to the other hosts.
        replays = [client.get(fleet.url, headers=headers) for _ in range(HOSTS - 1)]
    assert first.status_code == 200, fleet.logs()
    assert [r.status_code for r in replays] == [401] * (HOSTS - 1)
    assert all('error="invalid_dpop_proof"' in r.headers["www-authenticate"] for r in replays)
    other_hosts = {r.headers["x-upstream"] for r in replays}
    assert first.headers["x-upstream"] not in other_hosts
    assert other_hosts | {first.headers["x-upstream"]} == fleet.upstreams


def test_16_simultaneous_copies_of_a_proof_give_exactly_one_200(multihost: MultiHost) -> None:
    """16 copies of one proof sent at once over 3 hosts: exactly one 200, fifteen 401."""
    fleet = multihost
    responses = send_all(fleet.url, [dpop_request(fleet)] * 16)
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] + [401] * 15, fleet.logs()
    refused = [r for r in responses if r.status_code == 401]
    assert all('error="invalid_dpop_proof"' in r.headers["www-authenticate"] for r in refused)
    assert {r.headers["x-upstream"] for r in responses} == fleet.upstreams


def start_hosts(
    app: str, env: dict[str, str], workdir: Path, *, factory: bool = False
) -> list[UvicornProcess]:
    """Three 2-worker uvicorn masters running ``app``, started in parallel."""

    def host(index: int) -> UvicornProcess:
        log = workdir / f"host{index}.log"
        return UvicornProcess(app, workers=WORKERS_PER_HOST, env=env, log=log, factory=factory)

    with ThreadPoolExecutor(max_workers=HOSTS) as pool:
        return list(pool.map(host, range(HOSTS)))


@pytest.fixture(scope="module")
def opaque_fleet(
    redis_cluster: ClusterSet, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[DevIssuer, CountingSlowIntrospection, Balancer]]:
    """The dev issuer (counting introspections) and three introspecting hosts behind nginx."""
    workdir = tmp_path_factory.mktemp("multihost-opaque")
    sock = loopback_socket()
    dev = DevIssuer(
        LocalIssuer(f"{origin_of(sock)}/oauth2/default"),
        clients=[DevClient("0oaspa", ()), DevClient("0oaresourceserver", (), "fleet-secret")],
    )
    # Slow answers, so that the concurrent requests of every host really overlap.
    counting = CountingSlowIntrospection(dev, delay=0.5)
    with serve(counting, sock=sock):
        env = {
            "FLEET_ISSUER": dev.issuer,
            "FLEET_AUDIENCE": dev.local.audience,
            "FLEET_REDIS_URL": redis_cluster.url,
        }
        hosts = start_hosts("tests.fleet._fleet_app:create_app", env, workdir, factory=True)
        balancer = Balancer(workdir / "nginx", [f"127.0.0.1:{h.port}" for h in hosts])
        try:
            yield dev, counting, balancer
        finally:
            balancer.stop()
            for started in hosts:
                started.stop()


def test_each_new_opaque_token_is_introspected_once_fleet_wide(
    opaque_fleet: tuple[DevIssuer, CountingSlowIntrospection, Balancer],
) -> None:
    """30 concurrent requests over 3 hosts with a new opaque token: one introspection each."""
    dev, counting, balancer = opaque_fleet
    for _ in range(2):
        minted = httpx.post(
            f"{dev.issuer}/dev/mint", json={"client_id": "0oaspa", "opaque": True}, timeout=30
        )
        headers = {"authorization": f"Bearer {minted.json()['access_token']}"}
        before = counting.calls
        responses = send_all(balancer.base_url + "/", [headers] * 30)
        assert [r.status_code for r in responses] == [200] * 30
        assert len({r.headers["x-upstream"] for r in responses}) == HOSTS
        # Exactly one: whoever wins the lease reads the store again before calling, so a
        # first read that raced the holder's publication costs no second call.
        assert counting.calls - before == 1


def worker_pids(host: UvicornProcess) -> set[int]:
    """The pids of a uvicorn master's worker processes (Linux /proc)."""
    pid = host.process.pid
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return {int(child) for child in children}


@dataclass
class Outcome:
    """One request of the failover run: when it started, which kind, its answer."""

    started: float
    kind: str
    status: int
    retry_after: str | None


def one_round(fleet: MultiHost, pool: ThreadPoolExecutor) -> list[Outcome]:
    """One DPoP and one Bearer request per host, all at once, through the balancer."""

    def call(kind: str) -> Outcome:
        headers = dpop_request(fleet) if kind == "dpop" else bearer(fleet)
        started = time.monotonic()
        with httpx.Client(trust_env=False, timeout=30) as client:
            response = client.get(fleet.url, headers=headers)
        return Outcome(started, kind, response.status_code, response.headers.get("retry-after"))

    return list(pool.map(call, ["dpop", "bearer"] * HOSTS))


def test_a_primary_killed_mid_run_gives_dpop_503_until_promotion_then_recovers(
    multihost: MultiHost,
) -> None:
    """SIGKILL a cluster primary mid-run: no 500, Bearer 200, DPoP 503 only until promotion."""
    fleet = multihost
    before = {host.port: worker_pids(host) for host in fleet.hosts}
    outcomes: list[Outcome] = []
    promoted: float | None = None
    with ThreadPoolExecutor(max_workers=2 * HOSTS) as pool:
        for _ in range(3):
            outcomes += one_round(fleet, pool)
        assert {o.status for o in outcomes} == {200}, fleet.logs()
        victim = fleet.cluster.primaries()[0]
        victim.kill()
        killed = time.monotonic()
        while promoted is None or time.monotonic() < promoted + STEADY:
            assert time.monotonic() < killed + FAILOVER_LIMIT, "no promotion in time"
            outcomes += one_round(fleet, pool)
            if promoted is None and fleet.cluster.serving():
                promoted = time.monotonic()
    during = [o for o in outcomes if o.started >= killed]
    assert all(o.status in (200, 503) for o in during)  # no 500 (nor 502) anywhere
    assert {o.status for o in during if o.kind == "bearer"} == {200}
    unavailable = [o for o in during if o.status == 503]
    assert unavailable, "the kill did not touch DPoP at all"
    assert all(o.kind == "dpop" and o.retry_after == "3" for o in unavailable)
    # "Until promoted": the test sees the promotion by polling the nodes; a
    # worker whose client last read the slot map before it fails once more
    # (503) and then refreshes the map, so at most one 503 per worker after.
    late = [o for o in unavailable if o.started >= promoted]
    assert len(late) <= HOSTS * WORKERS_PER_HOST
    # Back without a restart: the same worker processes, every host serving DPoP.
    after = send_all(fleet.url, [dpop_request(fleet) for _ in range(3 * HOSTS)])
    assert [r.status_code for r in after] == [200] * 3 * HOSTS
    assert {r.headers["x-upstream"] for r in after} == fleet.upstreams
    assert {host.port: worker_pids(host) for host in fleet.hosts} == before
