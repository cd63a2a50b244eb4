"""Hostile requests against a Flask app: each gets its documented answer."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import pytest
from flask import Blueprint, Flask, g
from flask.views import MethodView
from werkzeug.exceptions import HTTPException

from okta_bearer import BearerError, ConfigurationError
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


def shared_path_app(issuer: LocalIssuer) -> Flask:
    """``/items``: a public GET view and a protected POST view on one path."""
    app = Flask("shared_path")

    @app.get("/items")
    @public
    def list_items() -> dict[str, Any]:
        return {"items": []}

    @app.post("/items")
    def add_item() -> dict[str, Any]:
        return {"by": current_claims.sub}

    BearerAuth(app, verifier=issuer.verifier())
    return app


@pytest.mark.parametrize("method", ["OPTIONS", "PUT"])
def test_a_public_view_does_not_tell_a_protected_views_methods(
    issuer: LocalIssuer, method: str
) -> None:
    """Flask's own OPTIONS and 405 on a path shared with a protected view need a token."""
    client = shared_path_app(issuer).test_client()
    anonymous = client.open("/items", method=method)
    assert anonymous.status_code == 401
    assert "Allow" not in anonymous.headers
    signed_in = client.open("/items", method=method, headers=issuer.headers())
    assert signed_in.status_code == (200 if method == "OPTIONS" else 405)
    assert "POST" in signed_in.headers["Allow"]


def test_the_public_view_of_a_shared_path_stays_public(issuer: LocalIssuer) -> None:
    """On a path shared with a protected view, the public view's GET and HEAD need no token."""
    client = shared_path_app(issuer).test_client()
    assert client.get("/items").status_code == 200
    assert client.head("/items").status_code == 200
    assert client.post("/items").status_code == 401


@pytest.mark.parametrize("path", ["/api/items", "/api//items/"])
def test_a_protected_blueprint_route_is_not_told_by_a_redirect(
    issuer: LocalIssuer, path: str
) -> None:
    """With blueprints=, Flask's slash redirects to a protected route need a token first."""
    app = Flask("redirects")
    api = Blueprint("api", __name__, url_prefix="/api")

    @api.get("/items/")
    def items() -> dict[str, Any]:
        return {"sub": current_claims.sub}

    app.register_blueprint(api)

    @app.get("/home/")
    def home() -> str:
        return "home"

    BearerAuth(app, verifier=issuer.verifier(), blueprints=[api])
    client = app.test_client()
    anonymous = client.get(path)
    assert anonymous.status_code == 401
    assert "Location" not in anonymous.headers
    assert client.get(path, headers=issuer.headers()).status_code == 308
    assert client.get("/home").status_code == 308  # outside the blueprint: Flask's own answer


def test_the_blueprint_check_runs_for_every_app_of_one_extension(issuer: LocalIssuer) -> None:
    """An app factory's shared BearerAuth refuses to serve an app missing a listed blueprint."""
    auth = BearerAuth(verifier=issuer.verifier(), blueprints=["api"])

    def create_app(with_api: bool) -> Flask:
        app = Flask("factory")
        api = Blueprint("api", __name__, url_prefix="/api")

        @api.get("/items")
        def items() -> dict[str, Any]:
            return {"sub": current_claims.sub}

        app.register_blueprint(api, name="api" if with_api else "api_v2")
        auth.init_app(app)
        return app

    assert create_app(with_api=True).test_client().get("/api/items").status_code == 401
    broken = create_app(with_api=False)
    broken.testing = True
    with pytest.raises(ConfigurationError, match="api"):
        broken.test_client().get("/api/items")


def test_public_on_one_method_of_a_method_view_leaves_it_protected(issuer: LocalIssuer) -> None:
    """@public on a MethodView's method opens nothing; decorators = [public] opens the view."""

    class Items(MethodView):
        @public
        def get(self) -> str:
            return "items"

        def post(self) -> dict[str, Any]:
            return {"by": current_claims.sub}

    class Health(MethodView):
        decorators: ClassVar[list[Callable[..., Any]]] = [public]

        def get(self) -> str:
            return "ok"

    app = Flask("method_views")
    app.add_url_rule("/items", view_func=Items.as_view("items"))
    app.add_url_rule("/health", view_func=Health.as_view("health"))
    BearerAuth(app, verifier=issuer.verifier())
    client = app.test_client()
    assert client.get("/items").status_code == 401
    assert client.post("/items").status_code == 401
    assert client.get("/items", headers=issuer.headers()).status_code == 200
    assert client.get("/health").status_code == 200


def test_a_blueprint_object_registered_twice_is_protected_under_both_names(
    issuer: LocalIssuer,
) -> None:
    """blueprints=[api] covers every registration of api; a name covers that registration."""
    api = Blueprint("api", __name__)

    @api.get("/items")
    def items() -> dict[str, bool]:
        return {"signed_in": g.claims is not None}

    def build(listed: list[Blueprint | str]) -> Flask:
        app = Flask("twice")
        app.register_blueprint(api, url_prefix="/v1")
        app.register_blueprint(api, url_prefix="/v2", name="api_v2")
        BearerAuth(app, verifier=issuer.verifier(), blueprints=listed)
        return app

    by_object = build([api]).test_client()
    assert by_object.get("/v1/items").status_code == 401
    assert by_object.get("/v2/items").status_code == 401
    by_name = build(["api_v2"]).test_client()
    assert by_name.get("/v2/items").status_code == 401
    assert by_name.get("/v1/items").json == {"signed_in": False}


def test_an_apps_own_bearer_error_handler_still_answers_in_blueprints(issuer: LocalIssuer) -> None:
    """A handler the app registers for BearerError answers a blueprint view's refusal too."""
    app = Flask("own_handler")
    api = Blueprint("api", __name__, url_prefix="/api")

    @api.get("/write")
    @require_scopes("items:write")
    def write() -> dict[str, Any]:
        return {"written": True}

    app.register_blueprint(api)
    BearerAuth(app, verifier=issuer.verifier())

    @app.errorhandler(BearerError)
    def mine(error: BearerError) -> tuple[dict[str, str], int]:
        return {"mine": error.reason}, error.status

    narrow = app.test_client().get("/api/write", headers=issuer.headers(scp=["profile"]))
    assert narrow.status_code == 403
    assert narrow.json == {"mine": "missing_scope"}


def test_the_apps_own_error_handlers_keep_refusals_and_their_challenges(
    issuer: LocalIssuer,
) -> None:
    """App handlers for 401, 403, HTTPException and Exception answer no refusal of the extension."""
    app = Flask("handlers")

    @app.get("/write")
    @require_scopes("items:write")
    def write() -> dict[str, Any]:
        return {"written": True}

    @app.errorhandler(401)
    @app.errorhandler(403)
    @app.errorhandler(HTTPException)
    @app.errorhandler(Exception)
    def swallow(_error: Exception) -> tuple[str, int]:
        return "swallowed", 200

    BearerAuth(app, verifier=issuer.verifier())
    client = app.test_client()
    anonymous = client.get("/write")
    assert anonymous.status_code == 401
    assert anonymous.headers["WWW-Authenticate"] == 'Bearer realm="api"'
    narrow = client.get("/write", headers=issuer.headers(scp=["profile"]))
    assert narrow.status_code == 403
    assert 'error="insufficient_scope"' in narrow.headers["WWW-Authenticate"]


def test_a_script_name_cut_mid_segment_opens_no_protected_view(issuer: LocalIssuer) -> None:
    """A SCRIPT_NAME "/docs/" cut from "/docs/admin" (PATH_INFO "admin") is judged as /admin."""
    app = Flask("script_name")

    @app.get("/admin")
    def admin() -> dict[str, bool]:
        return {"signed_in": g.claims is not None}

    BearerAuth(app, verifier=issuer.verifier(), public_paths=["/docs/"])
    client = app.test_client()
    cut = {"SCRIPT_NAME": "/docs/", "PATH_INFO": "admin"}
    assert client.get("/docs/admin", environ_overrides=cut).status_code == 401
    signed_in = client.get("/docs/admin", environ_overrides=cut, headers=issuer.headers())
    assert signed_in.json == {"signed_in": True}
