"""Serves examples/spa/ (static files, no build step) and its ``/config.json``.

Run it against the dev issuer or a real Okta org::

    OKTA_ISSUER=https://dev-123456.okta.com/oauth2/default OKTA_CLIENT_ID=0oa... \\
    API_BASE=http://localhost:9401 uvicorn spa_server:app --app-dir examples --port 9402

The SPA's redirect URI is its own origin plus ``/`` (``http://localhost:9402/``):
register exactly that as a sign-in redirect URI of the Okta application.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

SPA_DIR = Path(__file__).resolve().parent / "spa"
DEFAULT_SCOPES = "openid profile email items:read"


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def create_app(
    *, issuer: str, client_id: str, api_base: str, scopes: str = DEFAULT_SCOPES
) -> Starlette:
    """Build the SPA's static server, configured for ``issuer`` and the API at ``api_base``."""
    config = {
        "issuer": issuer.rstrip("/"),
        "clientId": client_id,
        "apiBase": api_base.rstrip("/"),
        "scopes": scopes,
    }
    # The page may talk only to itself, the API and the issuer (for the PKCE
    # token request); scripts only from this origin, so no inline script runs.
    headers = {
        "cache-control": "no-store",
        "referrer-policy": "no-referrer",
        "x-content-type-options": "nosniff",
        "content-security-policy": (
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            f"connect-src 'self' {_origin(api_base)} {_origin(issuer)}; "
            "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
        ),
    }

    def static(name: str, media_type: str) -> Any:
        async def endpoint(request: Request) -> Response:
            return FileResponse(SPA_DIR / name, media_type=media_type, headers=headers)

        return endpoint

    async def config_json(request: Request) -> Response:
        return JSONResponse(config, headers=headers)

    return Starlette(
        routes=[
            Route("/", static("index.html", "text/html; charset=utf-8")),
            Route("/app.js", static("app.js", "text/javascript; charset=utf-8")),
            Route("/style.css", static("style.css", "text/css; charset=utf-8")),
            Route("/config.json", config_json),
        ]
    )


def create_app_from_env() -> Starlette:
    """The SPA server as ``OKTA_ISSUER``, ``OKTA_CLIENT_ID``, ``API_BASE``, ``SPA_SCOPES`` say.

    Defaults point at ``okta-bearer dev-issuer`` and ``examples/api.py`` on their default ports.
    """
    return create_app(
        issuer=os.environ.get("OKTA_ISSUER", "http://127.0.0.1:9400/oauth2/default"),
        client_id=os.environ.get("OKTA_CLIENT_ID", "0oademospa0client0id"),
        api_base=os.environ.get("API_BASE", "http://127.0.0.1:9401"),
        scopes=os.environ.get("SPA_SCOPES", DEFAULT_SCOPES),
    )


def __getattr__(name: str) -> Any:
    # `uvicorn spa_server:app` builds the app on first access.
    if name == "app":
        app = create_app_from_env()
        globals()["app"] = app
        return app
    raise AttributeError(name)
