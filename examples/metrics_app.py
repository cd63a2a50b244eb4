"""An API that accepts JWTs and opaque tokens, and exposes Prometheus metrics.

JWTs are verified locally; any other token is introspected (RFC 7662).  Every
verification, fetch and cache lookup is counted; ``/metrics`` serves the
numbers (keep it on an internal port or network in production)::

    pip install 'okta-bearer[metrics]' uvicorn
    OKTA_CLIENT_ID=... OKTA_CLIENT_SECRET=... \
        uvicorn metrics_app:app --app-dir examples --port 9404
    curl -H "Authorization: Bearer $TOKEN" http://127.0.0.1:9404/items
    curl http://127.0.0.1:9404/metrics

``OKTA_ISSUER`` and ``OKTA_AUDIENCE`` default to the dev issuer
(``okta-bearer dev-issuer``); the client id and secret are the resource
server's own credentials for the introspection endpoint.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.authentication import requires
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from okta_bearer import (
    BearerAuthMiddleware,
    BearerUser,
    IntrospectionVerifier,
    TokenShapeVerifier,
    TokenVerifier,
    Verifier,
)
from okta_bearer.metrics import PrometheusEvents, observe


@requires("items:read")
async def items(request: Request) -> JSONResponse:
    """Needs items:read."""
    user = request.user
    assert isinstance(user, BearerUser)
    return JSONResponse({"items": ["first item"], "caller": user.display_name})


def create_app(*, verifier: Verifier, events: PrometheusEvents) -> Starlette:
    """The app: ``verifier`` judges tokens, ``events`` holds the series ``/metrics`` serves."""
    observed = observe(verifier, events)

    async def metrics(request: Request) -> Response:
        return Response(generate_latest(events.registry), media_type=CONTENT_TYPE_LATEST)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await observed.aclose()

    return Starlette(
        routes=[Route("/items", items), Route("/metrics", metrics)],
        middleware=[Middleware(BearerAuthMiddleware, observed, public_paths=["/metrics"])],
        lifespan=lifespan,
    )


def build_verifier(events: PrometheusEvents) -> Verifier:
    """JWTs checked locally, other tokens introspected, from the environment."""
    issuer = os.environ.get("OKTA_ISSUER", "http://127.0.0.1:9400/oauth2/default")
    audience = os.environ.get("OKTA_AUDIENCE", "api://default")
    return TokenShapeVerifier(
        TokenVerifier(issuer, audience),
        IntrospectionVerifier(
            issuer,
            audience,
            client_id=os.environ.get("OKTA_CLIENT_ID", "0oaresourceserver"),
            client_secret=os.environ.get("OKTA_CLIENT_SECRET", "resource-server-secret"),
            events=events,
        ),
    )


def __getattr__(name: str) -> Any:
    # `uvicorn metrics_app:app` builds the app on first access, from the environment.
    if name == "app":
        events = PrometheusEvents()
        app = create_app(verifier=build_verifier(events), events=events)
        globals()["app"] = app
        return app
    raise AttributeError(name)
