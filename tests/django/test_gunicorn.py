"""The example Django project under gunicorn (sync and gthread workers) with a real Redis.

One real key server (which starts out down), one redis-server shared by the
workers (key sets and DPoP replay marks), and gunicorn serving
``examples/django_project`` (through ``tests.django.gunicorn_app``, which
names the worker in ``X-Worker-Pid``) with ``--preload``, as many deployments run it:
4 sync workers of one thread, and 4 gthread workers of 4 threads.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import httpx
import pytest
from starlette.types import Receive, Scope, Send

from okta_bearer.testing import DPoPKey, LocalIssuer

from ..fleet.conftest import KeyServer
from ..servers import GunicornProcess, serve
from ..store._server import RedisServer
from .helpers import bearer

WORKERS = 4
KINDS: tuple[Literal["sync", "gthread"], ...] = ("sync", "gthread")
COLD_REQUESTS = 16


class Switchable:
    """The key server, answering 503 to everything while ``down``."""

    def __init__(self, keys: KeyServer) -> None:
        self.keys = keys
        self.down = True

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.down:
            await send({"type": "http.response.start", "status": 503, "headers": []})
            await send({"type": "http.response.body", "body": b"down"})
            return
        await self.keys(scope, receive, send)


@dataclass
class Site:
    """A running gunicorn: its URL, the issuer it trusts, and what the cold outage answered."""

    base_url: str
    issuer: LocalIssuer
    log: Path
    outage: list[httpx.Response] = field(default_factory=list)
    fetched: dict[str, int] = field(default_factory=dict)


def send_all(
    base_url: str, requests: list[tuple[str, str, dict[str, str]]]
) -> list[httpx.Response]:
    """Send every ``(method, path, headers)`` at once, each on a new connection (any worker)."""

    def call(request: tuple[str, str, dict[str, str]]) -> httpx.Response:
        method, path, headers = request
        with httpx.Client(base_url=base_url, trust_env=False, timeout=30) as client:
            response = client.request(method, path, headers=headers)
            response.read()
            return response

    with ThreadPoolExecutor(max_workers=len(requests)) as pool:
        return list(pool.map(call, requests))


@pytest.fixture(scope="module")
def sites(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Site]]:
    """gunicorn with sync and with gthread workers, sharing one Redis and one key server.

    The key server is down while every worker is cold: the answers are kept
    in each site's ``outage``.  Then it comes up, and the fixture waits until
    every worker a burst reaches has its keys (a failed fetch backs off for
    up to 5 s); both sites wait at once.
    """
    tmp = tmp_path_factory.mktemp("gunicorn")
    keys = KeyServer()
    switch = Switchable(keys)
    with serve(switch) as key_server:
        keys.issuer = LocalIssuer(f"{key_server.base_url}/oauth2/default")
        redis = RedisServer(tmp / "redis")
        redis.start()
        running: dict[str, tuple[GunicornProcess, Site]] = {}
        try:
            for kind in KINDS:
                # One thread per sync worker: gunicorn turns "sync" with threads > 1 into gthread.
                server = GunicornProcess(
                    "tests.django.gunicorn_app:application",
                    workers=WORKERS,
                    worker_class=kind,
                    threads=1 if kind == "sync" else 4,
                    env={"OKTA_ISSUER": keys.issuer.issuer, "REDIS_URL": redis.url},
                    log=tmp / f"{kind}.log",
                )
                running[kind] = (server, Site(server.base_url, keys.issuer, server.log))
            headers = bearer(keys.issuer.mint())
            for _, site in running.values():
                site.outage = send_all(site.base_url, [("GET", "/whoami", headers)] * COLD_REQUESTS)
            switch.down = False
            deadline = time.monotonic() + 30
            burst = [("GET", "/whoami", headers)] * WORKERS * 2
            waiting = [site for _, site in running.values()]
            while waiting:
                assert time.monotonic() < deadline, [s.log.read_text() for s in waiting]
                time.sleep(0.5)
                waiting = [
                    s
                    for s in waiting
                    if {r.status_code for r in send_all(s.base_url, burst)} != {200}
                ]
            for _, site in running.values():
                site.fetched = dict(keys.counts)
            yield {kind: site for kind, (_, site) in running.items()}
        finally:
            with ThreadPoolExecutor() as pool:  # each stop waits for its workers: in parallel
                list(pool.map(GunicornProcess.stop, [server for server, _ in running.values()]))
            redis.stop()


@pytest.fixture(params=KINDS)
def site(request: pytest.FixtureRequest, sites: dict[str, Site]) -> Site:
    """One of the two gunicorns: 4 sync workers, or 4 gthread workers of 4 threads."""
    return sites[request.param]


def test_key_server_outage_is_503_with_retry_after(site: Site) -> None:
    """Cold workers with the key server down answer 503 with Retry-After, never 500."""
    assert {r.status_code for r in site.outage} == {503}, site.log.read_text()
    assert all(int(r.headers["retry-after"]) > 0 for r in site.outage)
    assert all("www-authenticate" not in r.headers for r in site.outage)
    assert len({r.headers["x-worker-pid"] for r in site.outage}) >= 1


def test_recovery_costs_the_fleet_one_fetch(site: Site) -> None:
    """When the key server is back, the 8 workers of both gunicorns (one Redis) fetch once."""
    assert site.fetched == {"discovery": 1, "jwks": 1}


def test_dpop_proof_replayed_to_another_worker_is_refused(site: Site) -> None:
    """A proof accepted by one worker is refused by every worker it is replayed to (Redis marks)."""
    key = DPoPKey()
    token = site.issuer.mint(cnf={"jkt": key.jkt})
    headers = key.headers("GET", site.base_url + "/whoami", token)
    [first] = send_all(site.base_url, [("GET", "/whoami", headers)])
    assert first.status_code == 200, site.log.read_text()
    assert first.json()["jkt"] == key.jkt
    replays = send_all(site.base_url, [("GET", "/whoami", headers)] * 24)
    assert {r.status_code for r in replays} == {401}
    assert all('error="invalid_dpop_proof"' in r.headers["www-authenticate"] for r in replays)
    others = {r.headers["x-worker-pid"] for r in replays} - {first.headers["x-worker-pid"]}
    assert others  # the replay really reached other processes


@pytest.mark.parametrize("path", ["/items", "/api/items", "/whoami", "/nowhere"])
def test_every_method_needs_a_token(site: Site, path: str) -> None:
    """OPTIONS, HEAD, PUT and an unknown method get 401 without a token, on views and DRF alike."""
    methods = ["OPTIONS", "HEAD", "PUT", "PROPFIND", "GET"]
    answers = send_all(site.base_url, [(m, path, {}) for m in methods])
    assert [r.status_code for r in answers] == [401] * len(methods)
    assert all(r.headers["www-authenticate"].startswith('Bearer realm="api"') for r in answers)


def test_drf_view(site: Site) -> None:
    """DRF under gunicorn: GET with items:read, POST 403 naming items:write, OPTIONS closed."""
    reader = bearer(site.issuer.mint(scp=["items:read"]))
    got, posted, options, head = send_all(
        site.base_url,
        [
            ("GET", "/api/items", reader),
            ("POST", "/api/items", reader),
            ("OPTIONS", "/api/items", reader),
            ("HEAD", "/api/items", reader),
        ],
    )
    assert (got.status_code, got.json()["caller"]) == (200, "alice@example.com")
    assert posted.status_code == 403
    assert 'scope="items:write"' in posted.headers["www-authenticate"]
    assert options.status_code == 403  # no scopes declared for OPTIONS: closed
    assert head.status_code == 200


def test_two_authorization_headers_joined_by_gunicorn_are_400(site: Site) -> None:
    """gunicorn joins two Authorization fields with ','; the answer is 400, as for two on ASGI."""
    token = site.issuer.mint()
    with httpx.Client(base_url=site.base_url, trust_env=False, timeout=30) as client:
        response = client.get("/whoami", headers=[("authorization", f"Bearer {token}")] * 2)
    assert response.status_code == 400
    assert 'error="invalid_request"' in response.headers["www-authenticate"]
    assert token not in response.text


def test_wrong_setting_stops_the_workers(tmp_path: Path) -> None:
    """gunicorn runs no system checks: a wrong OKTA_BEARER stops it before it serves anything."""
    env = {"OKTA_ISSUER": "http://issuer.example/oauth2/default", "REDIS_URL": ""}
    with pytest.raises(pytest.fail.Exception, match="gunicorn exited") as failed:
        GunicornProcess(
            "tests.django.gunicorn_app:application",
            workers=1,
            worker_class="sync",
            threads=1,
            env=env,
            log=tmp_path / "gunicorn.log",
        )
    assert "ConfigurationError: issuer must use https://" in str(failed.value)


def test_start_up_check_before_the_fork_serves_without_a_fetch(tmp_path: Path) -> None:
    """With "warn" under --preload: the master fetches once, and no forked worker fetches again."""
    keys = KeyServer()
    with serve(keys) as key_server:
        keys.issuer = LocalIssuer(f"{key_server.base_url}/oauth2/default")
        server = GunicornProcess(
            "tests.django.gunicorn_app:application",
            workers=WORKERS,
            worker_class="gthread",
            threads=4,
            env={"OKTA_ISSUER": keys.issuer.issuer, "REDIS_URL": "", "OKTA_STARTUP_CHECK": "warn"},
            log=tmp_path / "gunicorn.log",
        )
        try:
            at_start = dict(keys.counts)
            headers = bearer(keys.issuer.mint())
            answers = send_all(server.base_url, [("GET", "/whoami", headers)] * COLD_REQUESTS)
        finally:
            server.stop()
        log = server.log.read_text()
    assert {r.status_code for r in answers} == {200}, log
    assert len({r.headers["x-worker-pid"] for r in answers}) > 1, log
    assert at_start == {"discovery": 1, "jwks": 1}, log
    assert dict(keys.counts) == at_start, log


def test_start_up_check_exit_stops_gunicorn(tmp_path: Path) -> None:
    """With "exit" and the key server down, gunicorn's master stops before forking, naming it."""
    keys = KeyServer()
    switch = Switchable(keys)  # down
    with serve(switch) as key_server:
        issuer = f"{key_server.base_url}/oauth2/default"
        with pytest.raises(pytest.fail.Exception, match="gunicorn exited") as failed:
            GunicornProcess(
                "tests.django.gunicorn_app:application",
                workers=2,
                worker_class="sync",
                threads=1,
                env={"OKTA_ISSUER": issuer, "REDIS_URL": "", "OKTA_STARTUP_CHECK": "exit"},
                log=tmp_path / "gunicorn.log",
            )
    assert f"okta_bearer: issuer {issuer}: " in str(failed.value)
    assert "stopping (startup_check='exit')" in str(failed.value)
