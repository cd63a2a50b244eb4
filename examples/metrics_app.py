"""An API that accepts JWTs and opaque tokens, and exposes Prometheus metrics.

JWTs are verified locally; any other token is introspected (RFC 7662).  One
``PrometheusEvents`` is given to ``protect()`` (every request judged: 200s,
401s and 400s by reason, 403s from ``require_scopes``, 503s) and to the
verifiers (key, discovery and introspection fetches; cache hits and misses).
``/metrics`` serves the numbers (keep it on an internal port or network in
production)::

    pip install 'okta-bearer[metrics]' uvicorn
    OKTA_CLIENT_ID=... OKTA_CLIENT_SECRET=... \
        uvicorn metrics_app:app --app-dir examples --port 9404
    curl -H "Authorization: Bearer $TOKEN" http://127.0.0.1:9404/items
    curl http://127.0.0.1:9404/metrics

``OKTA_ISSUER`` and ``OKTA_AUDIENCE`` default to the dev issuer on :9400;
``OKTA_CLIENT_ID`` and ``OKTA_CLIENT_SECRET`` (the resource server's own
credentials for the introspection endpoint) default to the client that
``python examples/introspection_issuer.py`` registers, so against that issuer
it runs unchanged (docs/guides/opaque-tokens.md).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from okta_bearer import (
    Claims,
    IntrospectionVerifier,
    TokenShapeVerifier,
    TokenVerifier,
    Verifier,
)
from okta_bearer.fastapi import protect, require_scopes
from okta_bearer.metrics import PrometheusEvents


def create_app(*, verifier: Verifier, events: PrometheusEvents) -> FastAPI:
    """The app: ``verifier`` judges tokens, ``events`` holds the series ``/metrics`` serves."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        await verifier.aclose()

    app = FastAPI(lifespan=lifespan)

    @app.get("/items")
    async def items(claims: Claims = require_scopes("items:read")) -> dict[str, Any]:
        """Needs items:read."""
        return {"items": ["first item"], "caller": claims.sub or claims.client_id}

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(events.registry), media_type=CONTENT_TYPE_LATEST)

    protect(app, verifier, public_paths=["/metrics"], events=events)
    return app


def build_verifier(events: PrometheusEvents) -> Verifier:
    """JWTs checked locally, other tokens introspected, from the environment."""
    issuer = os.environ.get("OKTA_ISSUER", "http://127.0.0.1:9400/oauth2/default")
    audience = os.environ.get("OKTA_AUDIENCE", "api://default")
    return TokenShapeVerifier(
        TokenVerifier(issuer, audience, events=events),
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
