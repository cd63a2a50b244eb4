"""The API every uvicorn worker of the fleet tests runs (configured by environment).

``FLEET_ISSUER`` names the issuer, ``FLEET_REDIS_URL`` the shared store (a
``redis://`` server or a ``redis+cluster://`` cluster).  ``/`` answers the
worker's pid, so tests can see requests spread over processes.  With
``FLEET_DPOP=1`` the same store also holds DPoP replay marks (RFC 9449
section 11.1), so DPoP-bound tokens work and proofs are single-use fleet-wide.
"""

from __future__ import annotations

import os

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from okta_bearer import BearerAuthMiddleware, DPoPSettings, KeyPolicy, TokenVerifier
from okta_bearer.redis_store import RedisStore


async def whoami(request: Request) -> JSONResponse:
    """The protected route: which worker answered, and for whom."""
    return JSONResponse({"pid": os.getpid(), "sub": request.user.identity})


async def health(request: Request) -> JSONResponse:
    """Public: lets the test know the workers are up."""
    return JSONResponse({"pid": os.getpid()})


store = RedisStore(os.environ["FLEET_REDIS_URL"], timeout=2.0)
verifier = TokenVerifier(
    os.environ["FLEET_ISSUER"],
    "api://default",
    # Generous: on a loaded 2-core CI machine a worker may answer its peers late.
    keys=KeyPolicy(
        timeout=30.0,
        unknown_kid_interval=float(os.environ.get("FLEET_UNKNOWN_KID_INTERVAL", "5")),
    ),
    store=store,
)
dpop = DPoPSettings(store=store, retry_after=3) if os.environ.get("FLEET_DPOP") == "1" else None
app = Starlette(
    routes=[Route("/", whoami), Route("/health", health)],
)
app.add_middleware(BearerAuthMiddleware, verifier=verifier, public_paths=["/health"], dpop=dpop)
