"""A fleet: a real key server, a real redis-server, and the API under uvicorn --workers 4."""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from okta_bearer.testing import LocalIssuer

from ..servers import UvicornProcess, serve
from ..store._server import RedisServer

WORKERS = 4


class KeyServer:
    """The issuer's discovery and JWKS over real HTTP, counting what it serves."""

    def __init__(self) -> None:
        self.issuer: LocalIssuer  # set once the port is known
        self.counts: Counter[str] = Counter()
        self._lock = threading.Lock()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert scope["type"] == "http"
        request = Request(scope, receive)
        path = request.url.path
        response: Response
        if path.endswith("/v1/keys"):
            kind = "jwks"
            response = JSONResponse(self.issuer.jwks(), headers={"cache-control": "max-age=3600"})
        elif "/.well-known/" in path:
            kind = "discovery"
            response = JSONResponse(self.issuer.metadata())
        else:
            kind = "other"
            response = JSONResponse({"errorCode": "E0000022"}, status_code=404)
        with self._lock:
            self.counts[kind] += 1
        await response(scope, receive, send)


class CountingSlowIntrospection:
    """Counts /v1/introspect calls and delays each, so concurrent requests overlap."""

    def __init__(self, app: ASGIApp, delay: float) -> None:
        self.app = app
        self.delay = delay
        self.calls = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].endswith("/v1/introspect"):
            self.calls += 1
            await asyncio.sleep(self.delay)
        await self.app(scope, receive, send)


@dataclass
class Fleet:
    """What a fleet test drives: the issuer, its key server, and the API's URL."""

    issuer: LocalIssuer
    keys: KeyServer
    api: UvicornProcess
    redis: RedisServer


@contextmanager
def start_fleet(app: str, tmp_path: Path, env: Mapping[str, str] | None = None) -> Iterator[Fleet]:
    """A fresh key server, redis-server and ``app`` under 4 uvicorn workers; ``env``: settings."""
    keys = KeyServer()
    with serve(keys) as key_server:
        keys.issuer = LocalIssuer(f"{key_server.base_url}/oauth2/default")
        redis = RedisServer(tmp_path)
        redis.start()
        api = UvicornProcess(
            app,
            workers=WORKERS,
            env={"FLEET_ISSUER": keys.issuer.issuer, "FLEET_REDIS_URL": redis.url, **(env or {})},
            log=tmp_path / "api.log",
        )
        try:
            yield Fleet(keys.issuer, keys, api, redis)
        finally:
            api.stop()
            redis.stop()


@pytest.fixture
def fleet(tmp_path: Path) -> Iterator[Fleet]:
    """The shared-keys API (tests.fleet.api_app) under 4 workers, with its key server and Redis."""
    with start_fleet("tests.fleet.api_app:app", tmp_path) as started:
        yield started
