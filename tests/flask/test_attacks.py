"""Hostile requests against a Flask app: each gets its documented answer."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Blueprint, Flask

from okta_bearer.flask import BearerAuth, current_claims, public, require_scopes
from okta_bearer.testing import LocalIssuer


@pytest.fixture
def issuer() -> LocalIssuer:
    """A fresh in-memory issuer."""
    return LocalIssuer()


def test_a_blueprint_catch_all_handler_does_not_swallow_a_refusal(issuer: LocalIssuer) -> None:
    """A blueprint's errorhandler(Exception) leaves a view's 403 and 401 to the extension."""
    app = Flask("catch_all")
    api = Blueprint("api", __name__, url_prefix="/api")

    @api.get("/write")
    @require_scopes("items:write")
    def write() -> dict[str, Any]:
        return {"written": True}

    @api.get("/who")
    @public
    def who() -> dict[str, Any]:
        return {"sub": current_claims.sub}

    @api.errorhandler(Exception)
    def internal(_error: Exception) -> tuple[dict[str, str], int]:
        return {"error": "internal"}, 500

    app.register_blueprint(api)
    BearerAuth(app, verifier=issuer.verifier())
    client = app.test_client()
    narrow = client.get("/api/write", headers=issuer.headers(scp=["profile"]))
    assert narrow.status_code == 403
    assert 'error="insufficient_scope"' in narrow.headers["WWW-Authenticate"]
    anonymous = client.get("/api/who")
    assert anonymous.status_code == 401
    assert anonymous.headers["WWW-Authenticate"] == 'Bearer realm="api"'
