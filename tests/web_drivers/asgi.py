"""The ASGI driver: a Starlette app with BearerAuthMiddleware, through httpx.ASGITransport."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from okta_bearer import BearerAuthMiddleware, require_auth

from . import StepUp, identity


class _Client:
    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def request(
        self, method: str, target: str, headers: list[tuple[bytes, bytes]]
    ) -> httpx.Response:
        return await self.client.request(method, target, headers=headers)


@asynccontextmanager
async def app(
    verifier: Any,
    *,
    base_url: str = "http://api.test",
    step_up: StepUp | None = None,
    **options: Any,
) -> AsyncIterator[_Client]:
    """Serve the common routes behind the middleware (installed inside Starlette)."""
    step_up = step_up or StepUp()

    async def echo(request: Request) -> JSONResponse:
        return JSONResponse(identity(request.user.claims))

    @require_auth(acr_values=step_up.acr_values, max_age=step_up.max_age, clock=step_up.clock)
    async def stepped(request: Request) -> JSONResponse:
        return JSONResponse(identity(request.user.claims))

    routes = [Route("/", echo), Route("/items", echo), Route("/stepup", stepped)]
    # Inside Starlette, as documented: route errors reach the middleware
    # before Starlette's ServerErrorMiddleware could answer 500.
    middleware = [Middleware(BearerAuthMiddleware, verifier=verifier, **options)]
    starlette = Starlette(routes=routes, middleware=middleware)
    transport = httpx.ASGITransport(app=starlette)
    async with httpx.AsyncClient(transport=transport, base_url=base_url) as client:
        yield _Client(client)
