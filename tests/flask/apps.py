"""A small Flask app under BearerAuth, built the way a user builds one."""

from __future__ import annotations

import time
from typing import Any

from flask import Blueprint, Flask, g

from okta_bearer.flask import BearerAuth, current_claims, public, require_auth, require_scopes
from okta_bearer.testing import LocalIssuer

ACR = "urn:okta:loa:2fa:any"


def build_app(issuer: LocalIssuer, **options: Any) -> tuple[Flask, BearerAuth]:
    """``/items``, ``/write`` (items:write), ``/stepup`` (2FA), ``/open``, public ``/health``."""
    app = Flask("okta_bearer_test_app")
    app.config["TESTING"] = True
    options.setdefault("verifier", issuer.verifier())
    auth = BearerAuth(app, **options)

    @app.get("/items")
    def items() -> dict[str, Any]:
        return {"sub": current_claims.sub, "g": g.claims.sub}

    @app.post("/write")
    @require_scopes("items:write")
    def write() -> dict[str, Any]:
        return {"written": True}

    @app.get("/stepup")
    @require_auth(acr_values=[ACR], max_age=300, clock=time.time)
    def stepup() -> dict[str, Any]:
        return {"sub": current_claims.sub}

    @app.get("/async")
    @require_scopes("items:read")
    async def async_view() -> dict[str, Any]:
        return {"sub": current_claims.sub}

    @app.get("/health")
    @public
    def health() -> dict[str, Any]:
        return {"ok": True, "claims": g.claims}

    @app.get("/open")
    def open_view() -> dict[str, Any]:
        return {"claims": g.claims}

    @app.get("/who")
    @public
    def who() -> dict[str, Any]:
        return {"sub": current_claims.sub}

    return app, auth


def blueprint_app(issuer: LocalIssuer, **options: Any) -> Flask:
    """An app protecting only the ``api`` blueprint (and ``api.admin`` within it)."""
    app = Flask("okta_bearer_blueprints")
    app.config["TESTING"] = True
    api = Blueprint("api", __name__, url_prefix="/api")
    admin = Blueprint("admin", __name__, url_prefix="/admin")

    @api.get("/items")
    def items() -> dict[str, Any]:
        return {"sub": current_claims.sub}

    @admin.get("/users")
    def users() -> dict[str, Any]:
        return {"sub": current_claims.sub}

    @app.get("/")
    def home() -> dict[str, Any]:
        return {"home": True, "claims": g.claims}

    api.register_blueprint(admin)
    app.register_blueprint(api)
    options.setdefault("verifier", issuer.verifier())
    options.setdefault("blueprints", [api])
    BearerAuth(app, **options)
    return app
