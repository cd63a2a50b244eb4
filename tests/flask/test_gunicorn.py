"""The Flask extension under real gunicorn (4 sync workers, and gthread workers) on loopback.

A key server answers discovery and JWKS over real HTTP and counts them; the
API is ``tests/flask/gunicorn_app.py``.  What a WSGI deployment must hold:
one discovery and one JWKS fetch per process when many requests meet a cold
cache, a 503 with ``Retry-After`` (never a 500) while the key server is
down, ``OPTIONS``/``HEAD`` authenticated, and two ``Authorization`` headers
(joined by gunicorn into one value) refused with 400 as on ASGI.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Literal

import httpx
import pytest
from starlette.responses import PlainTextResponse
from starlette.types import Receive, Scope, Send

from okta_bearer.testing import DPoPKey, LocalIssuer

from ..fleet.conftest import KeyServer
from ..servers import GunicornProcess, serve
from ..store._server import RedisServer

WORKERS = 4
COLD_REQUESTS = 50
APP = "tests.flask.gunicorn_app:app"
WorkerClass = Literal["sync", "gthread"]


@contextmanager
def api(
    tmp_path: Path,
    worker_class: WorkerClass,
    keys: KeyServer | None = None,
    redis_url: str | None = None,
    startup_check: str = "off",
) -> Iterator[tuple[GunicornProcess, LocalIssuer, KeyServer]]:
    """A key server (``keys`` or a fresh one) and the API under gunicorn trusting it.

    With ``redis_url`` the workers share key sets and DPoP replay marks there.
    ``startup_check`` is the extension's (``"off"``: the workers start cold).
    """
    keys = keys or KeyServer()
    env = {"GUNI_REDIS_URL": redis_url} if redis_url else {}
    env["GUNI_STARTUP_CHECK"] = startup_check
    with serve(keys) as key_server:
        keys.issuer = LocalIssuer(f"{key_server.base_url}/oauth2/default")
        process = GunicornProcess(
            APP,
            workers=WORKERS,
            worker_class=worker_class,
            env={"GUNI_ISSUER": keys.issuer.issuer, **env},
            log=tmp_path / f"gunicorn-{worker_class}.log",
        )
        try:
            yield process, keys.issuer, keys
        finally:
            process.stop()


def at_once(base_url: str, headers: list[dict[str, str]]) -> list[httpx.Response]:
    """``GET /`` once per header set, each on a fresh connection, all at once."""

    # One pool with room for every request: each opens its own connection,
    # and the kernel spreads the connections over the workers.
    limits = httpx.Limits(max_connections=len(headers), max_keepalive_connections=0)
    with (
        httpx.Client(base_url=base_url, trust_env=False, timeout=30, limits=limits) as client,
        ThreadPoolExecutor(max_workers=len(headers)) as pool,
    ):
        return list(pool.map(lambda one: client.get("/", headers=one), headers))


@pytest.mark.parametrize("worker_class", ["sync", "gthread"])
def test_cold_requests_fetch_once_per_process(tmp_path: Path, worker_class: WorkerClass) -> None:
    """50 concurrent requests on a cold fleet: one discovery and one JWKS fetch per process."""
    with api(tmp_path, worker_class) as (server, issuer, keys):
        keys.counts.clear()  # /health probes fetch nothing, but start from zero
        token = issuer.mint()
        answers = at_once(server.base_url, [{"Authorization": f"Bearer {token}"}] * COLD_REQUESTS)
        assert {r.status_code for r in answers} == {200}, server.log.read_text()
        processes = {r.headers["x-worker-pid"] for r in answers}
        log = server.log.read_text()
    assert 1 <= len(processes) <= WORKERS
    # A process that served a request fetched exactly once; the others never did.
    assert keys.counts["discovery"] == len(processes), (keys.counts, processes, log)
    assert keys.counts["jwks"] == len(processes), (keys.counts, processes, log)


@pytest.mark.parametrize("worker_class", ["sync", "gthread"])
def test_start_up_check_before_the_fork_serves_without_a_fetch(
    tmp_path: Path, worker_class: WorkerClass
) -> None:
    """startup_check="warn" under --preload: the master fetches once; no worker fetches again."""
    with api(tmp_path, worker_class, startup_check="warn") as (server, issuer, keys):
        at_start = dict(keys.counts)
        token = issuer.mint()
        answers = at_once(server.base_url, [{"Authorization": f"Bearer {token}"}] * COLD_REQUESTS)
        log = server.log.read_text()
    assert {r.status_code for r in answers} == {200}, log
    assert len({r.headers["x-worker-pid"] for r in answers}) > 1, log  # several forked workers
    # Fetched once, by the master before forking; every worker kept those keys.
    assert at_start == {"discovery": 1, "jwks": 1}, log
    assert dict(keys.counts) == at_start, log


def test_start_up_check_exit_stops_gunicorn(tmp_path: Path) -> None:
    """startup_check="exit" with the key server down: gunicorn exits naming the issuer."""
    with serve(DownKeyServer()) as key_server:
        issuer = f"{key_server.base_url}/oauth2/default"
        with pytest.raises(pytest.fail.Exception, match="gunicorn exited") as failed:
            GunicornProcess(
                APP,
                workers=2,
                worker_class="sync",
                env={"GUNI_ISSUER": issuer, "GUNI_STARTUP_CHECK": "exit"},
                log=tmp_path / "gunicorn.log",
            )
    # gunicorn's master (--preload) prints the error and exits before forking any worker.
    assert f"Error: okta_bearer: issuer {issuer}: " in str(failed.value)
    assert "answered HTTP 502; stopping (startup_check='exit')" in str(failed.value)


class DownKeyServer(KeyServer):
    """A key server that answers every request with a 502, as a broken upstream."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await PlainTextResponse("bad gateway", status_code=502)(scope, receive, send)


def test_a_key_server_outage_is_a_503_with_retry_after(tmp_path: Path) -> None:
    """With the keys unobtainable, every request is a 503 with Retry-After, never a 500."""
    with api(tmp_path, "gthread", DownKeyServer()) as (server, issuer, _):
        token = issuer.mint()
        answers = at_once(server.base_url, [{"Authorization": f"Bearer {token}"}] * 12)
        log = server.log.read_text()
    assert {r.status_code for r in answers} == {503}, log
    assert all(int(r.headers["retry-after"]) > 0 for r in answers)
    assert all(r.headers["cache-control"] == "no-store" for r in answers)
    assert "Traceback" not in log


def test_what_gunicorn_and_flask_answer_themselves_is_authenticated(tmp_path: Path) -> None:
    """OPTIONS, HEAD and an unknown method are 401 without a token; a joined pair of headers 400."""
    with api(tmp_path, "sync") as (server, issuer, _):
        token = issuer.mint()
        with httpx.Client(base_url=server.base_url, trust_env=False, timeout=30) as client:
            anonymous = {m: client.request(m, "/").status_code for m in ("OPTIONS", "HEAD", "PUT")}
            bearer = {"Authorization": f"Bearer {token}"}
            options = client.options("/", headers=bearer)
            head = client.head("/", headers=bearer)
            put = client.put("/", headers=bearer)
            two = [("Authorization", f"Bearer {token}"), ("Authorization", f"Bearer {token}")]
            doubled = client.get("/", headers=two)
    assert anonymous == {"OPTIONS": 401, "HEAD": 401, "PUT": 401}
    assert options.status_code == 200
    assert "GET" in options.headers["allow"]
    assert head.status_code == 200
    assert put.status_code == 405
    # gunicorn joins the two fields into "Bearer t,Bearer t": split back, refused as two.
    assert doubled.status_code == 400
    assert 'error="invalid_request"' in doubled.headers["www-authenticate"]


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """One real redis-server on a free loopback port."""
    server = RedisServer(tmp_path / "redis")
    server.start()
    try:
        yield server
    finally:
        server.stop()


def test_a_fleet_with_redis_fetches_once_and_refuses_replays(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    """With RedisStore: 50 cold requests fetch once per fleet; a replayed proof is 401 anywhere."""
    with api(tmp_path, "sync", redis_url=redis_server.url) as (server, issuer, keys):
        keys.counts.clear()
        token = issuer.mint()
        answers = at_once(server.base_url, [{"Authorization": f"Bearer {token}"}] * COLD_REQUESTS)
        assert {r.status_code for r in answers} == {200}, server.log.read_text()
        processes = {r.headers["x-worker-pid"] for r in answers}
        fetched = dict(keys.counts)

        key = DPoPKey()
        bound = issuer.mint(cnf={"jkt": key.jkt})
        proof = key.headers("GET", server.base_url + "/", bound)
        [first] = at_once(server.base_url, [proof])
        replays: list[httpx.Response] = []
        # Which worker accepts a connection is the kernel's choice: replay until
        # some copies reached processes other than the one that accepted it.
        for _ in range(10):
            replays += at_once(server.base_url, [proof] * 16)
            if {r.headers["x-worker-pid"] for r in replays} - {first.headers["x-worker-pid"]}:
                break
        log = server.log.read_text()
    assert fetched == {"discovery": 1, "jwks": 1}, (fetched, processes, log)
    assert first.status_code == 200, log
    assert first.json()["jkt"] == key.jkt
    assert {r.status_code for r in replays} == {401}, log
    assert all('error="invalid_dpop_proof"' in r.headers["www-authenticate"] for r in replays)
    others = {r.headers["x-worker-pid"] for r in replays} - {first.headers["x-worker-pid"]}
    assert others  # the replay reached other processes, which refused it too
