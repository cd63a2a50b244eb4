"""A plain Starlette app protected by okta_bearer, using Starlette's own ``@requires``.

BearerAuthMiddleware fills ``request.user`` and ``request.auth`` the way
Starlette's AuthenticationMiddleware does, so ``@requires("items:read")`` checks
the token's scopes.  Run it against the dev issuer (``okta-bearer dev-issuer``)::

    uvicorn starlette_app:app --app-dir examples --port 9403
    curl -H "Authorization: Bearer $(okta-bearer mint)" http://127.0.0.1:9403/items

or a real Okta org, with ``OKTA_ISSUER`` and ``OKTA_AUDIENCE`` set.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.authentication import requires
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from okta_bearer import BearerAuthMiddleware, BearerUser, TokenVerifier


@requires("items:read")
async def items(request: Request) -> JSONResponse:
    """Needs items:read; Starlette answers 403 without it."""
    user = request.user
    assert isinstance(user, BearerUser)
    return JSONResponse({"items": ["first item"], "caller": user.display_name})


@requires("items:write")
async def create_item(request: Request) -> JSONResponse:
    """Needs items:write."""
    return JSONResponse({"created": True}, status_code=201)


async def health(request: Request) -> JSONResponse:
    """Public: listed in public_paths."""
    return JSONResponse({"ok": True})


def create_app(*, issuer: str, audience: str, verifier: TokenVerifier | None = None) -> Starlette:
    """Build the app; ``verifier`` lets tests inject one (else it is created and closed here)."""
    token_verifier = verifier or TokenVerifier(issuer, audience)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        if verifier is None:
            await token_verifier.aclose()

    return Starlette(
        routes=[
            Route("/health", health),
            Route("/items", items, methods=["GET"]),
            Route("/items", create_item, methods=["POST"]),
        ],
        # Outermost first: a browser-facing app lists Middleware(CORSMiddleware, ...)
        # before this one, so CORS answers preflights (they carry no token) and
        # decorates 401/403; the bearer middleware refuses an OPTIONS without one.
        middleware=[
            Middleware(BearerAuthMiddleware, verifier=token_verifier, public_paths=["/health"])
        ],
        lifespan=lifespan,
    )


def __getattr__(name: str) -> Any:
    # `uvicorn starlette_app:app` builds the app on first access, from the environment.
    if name == "app":
        app = create_app(
            issuer=os.environ.get("OKTA_ISSUER", "http://127.0.0.1:9400/oauth2/default"),
            audience=os.environ.get("OKTA_AUDIENCE", "api://default"),
        )
        globals()["app"] = app
        return app
    raise AttributeError(name)
