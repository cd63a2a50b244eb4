"""The apps served over real HTTP: Starlette and FastAPI, protected as users would protect them."""

from __future__ import annotations

import socket
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Security
from fastapi import Request as FastAPIRequest
from starlette.applications import Starlette
from starlette.authentication import requires
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

from okta_bearer import BearerAuthMiddleware, BearerUser, Claims, TokenVerifier
from okta_bearer.fastapi import get_claims, require_scopes

SPA_ORIGIN = "http://spa.example.test"


def _user(request: Request | WebSocket) -> dict[str, Any]:
    user = request.user
    claims = user.claims if isinstance(user, BearerUser) else None
    return {
        "authenticated": user.is_authenticated,
        "identity": user.identity if isinstance(user, BearerUser) else None,
        "display_name": user.display_name,
        "scopes": sorted(request.auth.scopes),
        "sub": claims.sub if claims else None,
        "client_id": claims.client_id if claims else None,
    }


async def whoami(request: Request) -> JSONResponse:
    return JSONResponse(_user(request))


@requires("items:read")
async def items(request: Request) -> JSONResponse:
    return JSONResponse({"items": ["a", "b"], "user": request.user.identity})


async def health(request: Request) -> PlainTextResponse:
    return PlainTextResponse("ok")


async def feed(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.send_json(_user(websocket))
    await websocket.close()


@requires("admin")
async def admin_feed(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.send_text("admin")
    await websocket.close()


STARLETTE_ROUTES = [
    Route("/whoami", whoami),
    Route("/items", items),
    Route("/health", health),
    Route("/public/info", health),
    WebSocketRoute("/ws", feed),
    WebSocketRoute("/ws/admin", admin_feed),
]


def starlette_app(verifier: TokenVerifier, **options: Any) -> Starlette:
    """A Starlette app with CORS outside the bearer middleware (so errors carry CORS headers)."""
    return Starlette(
        routes=STARLETTE_ROUTES,
        middleware=[
            Middleware(
                CORSMiddleware,
                allow_origins=[SPA_ORIGIN],
                allow_methods=["GET"],
                allow_headers=["authorization"],
            ),
            Middleware(BearerAuthMiddleware, verifier, **options),
        ],
    )


def cors_inside_app(verifier: TokenVerifier) -> Starlette:
    """CORS inside the bearer middleware (a mistake): preflights are refused before reaching it."""
    return Starlette(
        routes=STARLETTE_ROUTES,
        middleware=[
            Middleware(BearerAuthMiddleware, verifier),
            Middleware(
                CORSMiddleware,
                allow_origins=[SPA_ORIGIN],
                allow_methods=["GET"],
                allow_headers=["authorization"],
            ),
        ],
    )


def fastapi_app(verifier: TokenVerifier) -> FastAPI:
    """A FastAPI app using the okta_bearer.fastapi dependencies."""
    app = FastAPI()
    app.add_middleware(BearerAuthMiddleware, verifier, public_paths=["/docs", "/openapi.json"])

    @app.get("/claims")
    async def claims_route(claims: Claims = Security(get_claims)) -> dict[str, Any]:
        return {"sub": claims.sub, "scopes": sorted(claims.scopes), "jti": claims.jti}

    @app.get("/items")
    async def items_route(claims: Claims = require_scopes("items:read")) -> dict[str, Any]:
        return {"items": ["a"], "sub": claims.sub}

    @app.get("/admin")
    async def admin_route(
        claims: Claims = Security(get_claims, scopes=["admin"]),
    ) -> dict[str, Any]:
        return {"admin": claims.sub}

    @app.get("/whoami")
    async def whoami_route(request: FastAPIRequest) -> dict[str, Any]:
        return _user(request)

    return app


@dataclass(frozen=True)
class RawResponse:
    """An HTTP/1.1 response read off a socket."""

    status: int
    headers: dict[str, str]
    body: bytes


def raw_request(port: int, request: bytes) -> RawResponse:
    """Send ``request`` bytes as they are (no client merges or strips headers); read the answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as conn:
        conn.sendall(request)
        chunks = []
        while chunk := conn.recv(65536):
            chunks.append(chunk)
    data = b"".join(chunks)
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers: dict[str, str] = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return RawResponse(int(status_line.split()[1]), headers, body)
