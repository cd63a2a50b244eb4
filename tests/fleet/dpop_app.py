"""The API every uvicorn worker of the DPoP fleet test runs (configured by environment).

``FLEET_ISSUER`` names the issuer, ``FLEET_REDIS_URL`` the replay store all
workers share.  Keys are fetched per worker (no Redis), so a Redis outage can
only touch DPoP.  Every answer, refusals included, names the worker's pid in
``x-worker-pid``, so tests can see which process refused a replay.
"""

from __future__ import annotations

import os

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from okta_bearer import BearerAuthMiddleware, BearerUser, DPoPSettings, KeyPolicy, TokenVerifier
from okta_bearer.redis_store import RedisStore

PID = str(os.getpid()).encode()


class WorkerPid:
    """Add ``x-worker-pid`` to every HTTP response (outermost, so refusals get it too)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_with_pid(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), (b"x-worker-pid", PID)]
            await send(message)

        await self.app(scope, receive, send_with_pid)


async def whoami(request: Request) -> JSONResponse:
    """The protected route: the caller and the key its token is bound to."""
    user = request.user
    assert isinstance(user, BearerUser)
    return JSONResponse({"sub": user.identity, "jkt": user.claims.jkt})


async def health(request: Request) -> JSONResponse:
    """Public: lets the test know the workers are up."""
    return JSONResponse({"ok": True})


verifier = TokenVerifier(os.environ["FLEET_ISSUER"], "api://default", keys=KeyPolicy(timeout=5.0))
dpop = DPoPSettings(store=RedisStore(os.environ["FLEET_REDIS_URL"], timeout=0.5), retry_after=3)
app = Starlette(
    routes=[Route("/", whoami), Route("/health", health)],
    middleware=[
        Middleware(WorkerPid),
        Middleware(BearerAuthMiddleware, verifier, public_paths=["/health"], dpop=dpop),
    ],
)
