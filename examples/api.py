"""The example API: FastAPI protected by okta_bearer, callable from the SPA and Swagger UI.

Run it against the dev issuer (``okta-bearer dev-issuer``) or a real Okta org::

    OKTA_ISSUER=https://dev-123456.okta.com/oauth2/default \\
    OKTA_AUDIENCE=api://default OKTA_CLIENT_ID=0oa... SPA_ORIGIN=http://localhost:9402 \\
    uvicorn api:app --app-dir examples --port 9401

``okta-bearer demo`` builds it with :func:`create_app` instead, pointed at its
own dev issuer.  Routes:

* ``GET /api/public``: no token needed.
* ``GET /api/whoami``: scope ``items:read``; answers the token's claims.
* ``GET /api/items``: scope ``items:read``.
* ``POST /api/items``: scope ``items:write`` (the SPA does not ask for it: 403).
* ``/docs``: Swagger UI, whose *Authorize* button signs in with the implicit flow.

DPoP (RFC 9449) is accepted next to Bearer (``DPoPSettings(mode="allowed")``):
the SPA's DPoP option sends ``Authorization: DPoP <token>`` with a proof, and
a DPoP-bound token sent as Bearer is refused.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from importlib import resources
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field
from starlette.middleware.cors import CORSMiddleware

from okta_bearer import Claims, DPoPSettings, TokenVerifier
from okta_bearer.fastapi import configure_openapi, protect, require_scopes

SCOPES = {
    "openid": "OpenID Connect sign-in (required by the issuer unless it has a default scope)",
    "items:read": "Read items and your own claims",
    "items:write": "Create items",
}
DOCS_ASSETS = "/docs-assets"


class NewItem(BaseModel):
    """An item to create."""

    name: str = Field(min_length=1, max_length=100)


def _claims_view(claims: Claims) -> dict[str, Any]:
    return {
        "sub": claims.sub,
        "uid": claims.uid,
        "client_id": claims.client_id,
        "scopes": sorted(claims.scopes),
        "expires_at": claims.expires_at.isoformat(),
        "claims": dict(claims.raw),
    }


def _swagger_assets() -> str | None:
    """Folder with swagger-ui-bundle.js and swagger-ui.css, shipped by ``fastapi-offline``."""
    try:
        folder = resources.files("fastapi_offline") / "static"
    except ModuleNotFoundError:
        return None
    path = str(folder)
    return path if os.path.isfile(os.path.join(path, "swagger-ui-bundle.js")) else None


def create_app(
    *,
    issuer: str,
    audience: str,
    client_id: str | None = None,
    spa_origins: Sequence[str] = (),
    verifier: TokenVerifier | None = None,
) -> FastAPI:
    """Build the example API.

    Args:
        issuer: the authorization server, e.g. ``https://dev-1.okta.com/oauth2/default``.
        audience: the ``aud`` this API accepts.
        client_id: pre-filled in Swagger UI's Authorize dialog.
        spa_origins: browser origins allowed to call the API (CORS).
        verifier: use this :class:`TokenVerifier` (tests inject one); by
            default one is created here and closed when the app shuts down.
    """
    own_verifier = verifier is None
    token_verifier = verifier or TokenVerifier(issuer, audience)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        if own_verifier:
            await token_verifier.aclose()

    assets = _swagger_assets()
    # Swagger UI is served from local files when fastapi-offline is installed:
    # FastAPI's default /docs loads its JavaScript from a CDN.
    app = FastAPI(
        title="okta_bearer example API",
        version="1.0",
        lifespan=lifespan,
        docs_url=None if assets else "/docs",
        redoc_url=None,
    )
    configure_openapi(app, issuer=issuer, scopes=SCOPES, client_id=client_id)
    # protect() keeps the app's own openapi_url (and docs_url, when FastAPI
    # serves the docs) public and documents the 401/403 answers in OpenAPI;
    # the self-hosted Swagger UI's routes and assets are listed here.  Every
    # other request needs a token, OPTIONS included.  Called before the routes
    # are declared, so they are OktaBearerRoute routes: require_scopes is
    # checked by the route, not resolved by FastAPI on every request.
    protect(
        app,
        token_verifier,
        public_paths=["/api/public", "/docs", "/docs/oauth2-redirect", f"{DOCS_ASSETS}/"],
        # One process, so the default in-memory replay store is enough here;
        # replicas would share DPoPSettings(store="redis://...").
        dpop=DPoPSettings(mode="allowed"),
    )
    items: list[dict[str, str]] = [{"name": "first item", "owner": "system"}]

    @app.get("/api/public")
    async def public() -> dict[str, str]:
        """Anyone may call this."""
        return {"message": "public: no token needed"}

    @app.get("/api/whoami")
    async def whoami(claims: Claims = require_scopes("items:read")) -> dict[str, Any]:
        """The caller's verified token claims (needs items:read)."""
        return _claims_view(claims)

    @app.get("/api/items")
    async def list_items(claims: Claims = require_scopes("items:read")) -> dict[str, Any]:
        """All items (needs items:read)."""
        return {"items": items}

    @app.post("/api/items", status_code=201)
    async def create_item(
        item: NewItem, claims: Claims = require_scopes("items:write")
    ) -> dict[str, str]:
        """Create an item (needs items:write)."""
        created = {"name": item.name, "owner": claims.sub or ""}
        items.append(created)
        return created

    if assets:
        app.mount(DOCS_ASSETS, StaticFiles(directory=assets), name="docs-assets")

        @app.get("/docs", include_in_schema=False)
        async def swagger_ui() -> HTMLResponse:
            return get_swagger_ui_html(
                openapi_url=app.openapi_url or "/openapi.json",
                title=f"{app.title} - Swagger UI",
                oauth2_redirect_url=app.swagger_ui_oauth2_redirect_url,
                swagger_js_url=f"{DOCS_ASSETS}/swagger-ui-bundle.js",
                swagger_css_url=f"{DOCS_ASSETS}/swagger-ui.css",
                swagger_favicon_url=f"{DOCS_ASSETS}/favicon.png",
                init_oauth=app.swagger_ui_init_oauth,
            )

        @app.get("/docs/oauth2-redirect", include_in_schema=False)
        async def swagger_ui_redirect() -> HTMLResponse:
            return get_swagger_ui_oauth2_redirect_html()

    # Added after protect(), so it wraps the bearer middleware: it answers CORS
    # preflights itself (they carry no token), 401/403 answers carry CORS
    # headers too, and the SPA can read WWW-Authenticate.
    app.add_middleware(
        CORSMiddleware,
        allow_origins=list(spa_origins),
        allow_methods=["GET", "POST"],
        allow_headers=["Authorization", "Content-Type", "DPoP"],
        expose_headers=["WWW-Authenticate", "DPoP-Nonce"],
        max_age=600,
    )
    return app


def create_app_from_env() -> FastAPI:
    """The app configured by ``OKTA_ISSUER``, ``OKTA_AUDIENCE``, ``OKTA_CLIENT_ID``, ``SPA_ORIGIN``.

    Defaults point at ``okta-bearer dev-issuer`` on its default port.
    """
    origins = os.environ.get("SPA_ORIGIN", "http://127.0.0.1:9402,http://localhost:9402")
    return create_app(
        issuer=os.environ.get("OKTA_ISSUER", "http://127.0.0.1:9400/oauth2/default"),
        audience=os.environ.get("OKTA_AUDIENCE", "api://default"),
        client_id=os.environ.get("OKTA_CLIENT_ID"),
        spa_origins=[o.strip() for o in origins.split(",") if o.strip()],
    )


def __getattr__(name: str) -> Any:
    # `uvicorn api:app` builds the app on first access, not at import, so that
    # importing this module (as `okta-bearer demo` does) creates no verifier.
    if name == "app":
        app = create_app_from_env()
        globals()["app"] = app
        return app
    raise AttributeError(name)
