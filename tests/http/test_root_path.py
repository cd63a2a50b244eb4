"""Public paths are route paths: they hold when the app is mounted or served under a root path."""

from __future__ import annotations

from collections.abc import Callable

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Mount, Route
from starlette.types import ASGIApp

from okta_bearer import BearerAuthMiddleware, TokenVerifier
from okta_bearer.testing import LocalIssuer

from ..servers import Server, start_server

Serve = Callable[[ASGIApp], Server]


async def health(request: Request) -> PlainTextResponse:
    return PlainTextResponse("ok")


def protected_app(verifier: TokenVerifier) -> Starlette:
    app = Starlette(routes=[Route("/health", health), Route("/private", health)])
    app.add_middleware(BearerAuthMiddleware, verifier, public_paths=["/health"])
    return app


def test_public_path_in_a_mounted_app(
    serve: Serve, make_verifier: Callable[..., TokenVerifier], issuer: LocalIssuer
) -> None:
    """Mounted at /sub, public path "/health" is served at /sub/health; other paths need a token."""
    outer = Starlette(routes=[Mount("/sub", app=protected_app(make_verifier()))])
    server = serve(outer)
    with httpx.Client(base_url=server.base_url, trust_env=False, timeout=30) as client:
        assert client.get("/sub/health").status_code == 200
        assert client.get("/sub/private").status_code == 401
        token = issuer.mint()
        assert client.get("/sub/private", headers={"Authorization": f"Bearer {token}"}).text == "ok"


def test_public_path_under_uvicorn_root_path(
    make_verifier: Callable[..., TokenVerifier],
) -> None:
    """Behind a proxy (uvicorn --root-path /api), public path "/health" stays public."""
    server = start_server(protected_app(make_verifier()), root_path="/api")
    try:
        with httpx.Client(base_url=server.base_url, trust_env=False, timeout=30) as client:
            # The proxy strips /api, so uvicorn sees /health and reports path "/api/health".
            assert client.get("/health").status_code == 200
            assert client.get("/private").status_code == 401
    finally:
        server.stop()
