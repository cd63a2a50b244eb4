"""DPoP over uvicorn --workers 4 sharing a real redis-server: replays and outages."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from okta_bearer.testing import DPoPKey

from .conftest import Fleet, start_fleet


@pytest.fixture
def dpop_fleet(tmp_path: Path) -> Iterator[Fleet]:
    """A key server, a redis-server and ``tests.fleet.dpop_app`` under 4 workers."""
    with start_fleet("tests.fleet.dpop_app:app", tmp_path) as started:
        yield started


def send_all(base_url: str, requests: list[dict[str, str]]) -> list[httpx.Response]:
    """Send ``GET /`` once per header set, each on a fresh connection, all at once."""

    def call(headers: dict[str, str]) -> httpx.Response:
        # A new connection each: the kernel spreads them over the workers.
        with httpx.Client(base_url=base_url, trust_env=False, timeout=30) as client:
            response = client.get("/", headers=headers)
            response.read()
            return response

    with ThreadPoolExecutor(max_workers=len(requests)) as pool:
        return list(pool.map(call, requests))


def test_a_proof_replayed_to_other_workers_is_refused(dpop_fleet: Fleet) -> None:
    """A proof accepted by one worker is refused by every worker it is replayed to."""
    key = DPoPKey()
    token = dpop_fleet.issuer.mint(cnf={"jkt": key.jkt})
    url = dpop_fleet.api.base_url + "/"
    headers = key.headers("GET", url, token)
    [first] = send_all(dpop_fleet.api.base_url, [headers])
    assert first.status_code == 200, dpop_fleet.api.log.read_text()
    assert first.json()["jkt"] == key.jkt
    replays = send_all(dpop_fleet.api.base_url, [headers] * 24)
    assert {r.status_code for r in replays} == {401}
    assert all('error="invalid_dpop_proof"' in r.headers["www-authenticate"] for r in replays)
    other_workers = {r.headers["x-worker-pid"] for r in replays} - {first.headers["x-worker-pid"]}
    assert other_workers  # the replay really reached other processes


def connections_on_two_workers(base_url: str, count: int) -> list[httpx.Client]:
    """``count`` open keep-alive clients, at least one on each of two workers.

    Which worker accepts a new connection is the kernel's choice; on a busy
    machine one awake worker may take them all.  A kept-alive connection stays
    with the worker that accepted it, so opening connections until two workers
    hold some makes "the copies reached several processes" certain.
    """
    clients: list[httpx.Client] = []
    by_worker: dict[str, list[httpx.Client]] = {}
    for _ in range(200):
        client = httpx.Client(base_url=base_url, trust_env=False, timeout=30)
        clients.append(client)
        pid = client.get("/health").headers["x-worker-pid"]
        by_worker.setdefault(pid, []).append(client)
        if len(by_worker) >= 2 and len(clients) >= count:
            break
    if len(by_worker) < 2:
        for client in clients:
            client.close()
        pytest.fail("200 connections all went to one worker")
    first, second = (group[0] for group in list(by_worker.values())[:2])
    rest = [c for c in clients if c is not first and c is not second]
    for client in rest[count - 2 :]:
        client.close()
    return [first, second, *rest[: count - 2]]


def test_concurrent_copies_of_one_proof_are_accepted_once(dpop_fleet: Fleet) -> None:
    """16 copies of one fresh proof sent at once to at least 2 workers: exactly one 200."""
    key = DPoPKey()
    token = dpop_fleet.issuer.mint(cnf={"jkt": key.jkt})
    headers = key.headers("GET", dpop_fleet.api.base_url + "/", token)
    clients = connections_on_two_workers(dpop_fleet.api.base_url, 16)
    try:
        with ThreadPoolExecutor(max_workers=len(clients)) as pool:
            responses = list(pool.map(lambda c: c.get("/", headers=headers), clients))
    finally:
        for client in clients:
            client.close()
    assert sorted(r.status_code for r in responses) == [200] + [401] * 15
    assert len({r.headers["x-worker-pid"] for r in responses}) >= 2


def test_redis_stopped_mid_run_dpop_503_bearer_200(dpop_fleet: Fleet) -> None:
    """Redis stopped: DPoP requests get 503 + Retry-After, Bearer requests 200; back once it is."""
    url = dpop_fleet.api.base_url + "/"
    key = DPoPKey()
    token = dpop_fleet.issuer.mint(cnf={"jkt": key.jkt})
    bearer = {"authorization": f"Bearer {dpop_fleet.issuer.mint()}"}
    warm = send_all(dpop_fleet.api.base_url, [key.headers("GET", url, token) for _ in range(8)])
    assert {r.status_code for r in warm} == {200}, dpop_fleet.api.log.read_text()

    dpop_fleet.redis.stop()
    during = [key.headers("GET", url, token) for _ in range(16)] + [bearer] * 16
    responses = send_all(dpop_fleet.api.base_url, during)
    dpop_answers, bearer_answers = responses[:16], responses[16:]
    assert {r.status_code for r in dpop_answers} == {503}
    assert {r.headers["retry-after"] for r in dpop_answers} == {"3"}
    assert not any("www-authenticate" in r.headers for r in dpop_answers)
    assert {r.status_code for r in bearer_answers} == {200}

    dpop_fleet.redis.start()
    after = send_all(dpop_fleet.api.base_url, [key.headers("GET", url, token) for _ in range(8)])
    assert {r.status_code for r in after} == {200}, dpop_fleet.api.log.read_text()


def test_redis_frozen_dpop_503_within_the_store_timeout(dpop_fleet: Fleet) -> None:
    """Redis frozen (SIGSTOP, connections open, no answers): DPoP gets 503, Bearer 200, no hang."""
    url = dpop_fleet.api.base_url + "/"
    key = DPoPKey()
    token = dpop_fleet.issuer.mint(cnf={"jkt": key.jkt})
    bearer = {"authorization": f"Bearer {dpop_fleet.issuer.mint()}"}
    warm = send_all(dpop_fleet.api.base_url, [key.headers("GET", url, token) for _ in range(8)])
    assert {r.status_code for r in warm} == {200}, dpop_fleet.api.log.read_text()
    dpop_fleet.redis.pause()
    try:
        # The client's own 30 s timeout would raise if a worker waited on Redis for good.
        during = [key.headers("GET", url, token) for _ in range(8)] + [bearer] * 8
        responses = send_all(dpop_fleet.api.base_url, during)
    finally:
        dpop_fleet.redis.resume()
    assert [r.status_code for r in responses] == [503] * 8 + [200] * 8
