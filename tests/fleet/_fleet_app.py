"""The API each uvicorn worker runs in the fleet test: introspection with a Redis store.

Configured from the environment (``FLEET_ISSUER``, ``FLEET_AUDIENCE``,
``FLEET_REDIS_URL``, optionally ``FLEET_CACHE_TTL`` and ``FLEET_MAX_RATE``);
answers ``{"pid": ..., "client_id": ...}`` for a good token so the test can
see which worker served it, and ``/health`` (no token) so the test harness
sees when it is up.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from okta_bearer import BearerError, IntrospectionVerifier
from okta_bearer.redis_store import RedisStore


def create_app() -> Starlette:
    """One worker's app; its verifier shares introspection answers through Redis."""
    verifier = IntrospectionVerifier(
        os.environ["FLEET_ISSUER"],
        os.environ["FLEET_AUDIENCE"],
        client_id="0oaresourceserver",
        client_secret="fleet-secret",
        store=RedisStore(os.environ["FLEET_REDIS_URL"]),
        cache_ttl=float(os.environ.get("FLEET_CACHE_TTL", "60")),
        max_rate=float(os.environ.get("FLEET_MAX_RATE", "50")),
    )

    async def whoami(request: Request) -> JSONResponse:
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        try:
            claims = await verifier.verify(token)
        except BearerError as error:
            return JSONResponse({"error": error.reason, "pid": os.getpid()}, error.status)
        return JSONResponse({"pid": os.getpid(), "client_id": claims.client_id})

    async def health(request: Request) -> JSONResponse:
        return JSONResponse({"pid": os.getpid()})

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await verifier.aclose()

    routes = [Route("/", whoami), Route("/health", health)]
    return Starlette(routes=routes, lifespan=lifespan)
