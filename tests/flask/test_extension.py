"""BearerAuth on a Flask app: what is protected, what Flask answers by itself, the decorators."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from okta_bearer import ConfigurationError
from okta_bearer.flask import BearerAuth
from okta_bearer.testing import LocalIssuer

from .apps import ACR, blueprint_app, build_app


@pytest.fixture
def issuer() -> LocalIssuer:
    """A fresh in-memory issuer."""
    return LocalIssuer()


@pytest.fixture
def client(issuer: LocalIssuer) -> Iterator[FlaskClient]:
    """A test client of the whole-app protected sample."""
    app, _ = build_app(issuer)
    with app.test_client() as client:
        yield client


def auth(token: str, scheme: str = "Bearer") -> dict[str, str]:
    """An Authorization header."""
    return {"Authorization": f"{scheme} {token}"}


def test_a_valid_token_reaches_the_view_with_its_claims(
    client: FlaskClient, issuer: LocalIssuer
) -> None:
    """The view sees the claims through current_claims and flask.g.claims."""
    response = client.get("/items", headers=auth(issuer.mint()))
    assert response.status_code == 200
    assert response.json == {"sub": "alice@example.com", "g": "alice@example.com"}


def test_no_token_is_a_json_401_with_a_challenge(client: FlaskClient) -> None:
    """RFC 6750: a bare challenge, no-store, a JSON body."""
    response = client.get("/items")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="api"'
    assert response.headers["Cache-Control"] == "no-store"
    assert response.mimetype == "application/json"
    assert response.json is not None
    assert response.json["error"] is None


def test_a_bad_token_is_invalid_token(client: FlaskClient) -> None:
    """A forged token: 401 invalid_token in the challenge and the body."""
    response = client.get("/items", headers=auth("aaa.bbb.ccc"))
    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]
    assert response.json is not None
    assert response.json["error"] == "invalid_token"


@pytest.mark.parametrize("method", ["OPTIONS", "HEAD", "PATCH", "DELETE", "BREW"])
def test_what_flask_answers_itself_needs_a_token_too(client: FlaskClient, method: str) -> None:
    """Automatic OPTIONS, HEAD and methods the route lacks are 401 without a token."""
    response = client.open("/items", method=method)
    assert response.status_code == 401
    assert "Allow" not in response.headers


def test_options_and_head_work_with_a_token(client: FlaskClient, issuer: LocalIssuer) -> None:
    """With a token, Flask's own OPTIONS (200, Allow) and HEAD (no body) are served."""
    options = client.options("/items", headers=auth(issuer.mint()))
    assert options.status_code == 200
    assert "GET" in options.headers["Allow"]
    head = client.head("/items", headers=auth(issuer.mint()))
    assert head.status_code == 200
    assert head.data == b""


def test_an_unknown_method_is_405_only_after_authentication(
    client: FlaskClient, issuer: LocalIssuer
) -> None:
    """The route's methods are told (405 with Allow) only to an authenticated caller."""
    response = client.patch("/items", headers=auth(issuer.mint()))
    assert response.status_code == 405
    assert "GET" in response.headers["Allow"]


def test_an_unknown_path_is_404_only_after_authentication(
    client: FlaskClient, issuer: LocalIssuer
) -> None:
    """An anonymous caller cannot tell a missing route from a protected one."""
    assert client.get("/nothing-here").status_code == 401
    assert client.get("/nothing-here", headers=auth(issuer.mint())).status_code == 404


def test_public_views_need_no_token(client: FlaskClient) -> None:
    """@public: served without a token, g.claims is None; its OPTIONS and 405 are public too."""
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json == {"ok": True, "claims": None}
    assert client.options("/health").status_code == 200
    assert client.post("/health").status_code == 405


def test_current_claims_on_a_public_view_is_a_401(client: FlaskClient) -> None:
    """Reading current_claims where there are none is answered 401, not a 500."""
    response = client.get("/who")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="api"'


def test_public_paths_match_below_the_script_name(issuer: LocalIssuer) -> None:
    """public_paths are route paths: relative to SCRIPT_NAME, as on ASGI with root_path."""
    app, _ = build_app(issuer, public_paths=["/open"])
    client = app.test_client()
    response = client.get("/open", environ_overrides={"SCRIPT_NAME": "/api"})
    assert response.status_code == 200
    assert response.json == {"claims": None}
    assert client.get("/items").status_code == 401
    prefixed, _ = build_app(issuer, public_paths=["/api/open"])
    mounted = prefixed.test_client().get("/open", environ_overrides={"SCRIPT_NAME": "/api"})
    assert mounted.status_code == 401


def test_require_scopes_is_a_403_naming_the_scope(client: FlaskClient, issuer: LocalIssuer) -> None:
    """A token without items:write gets 403 insufficient_scope with the scope in the challenge."""
    response = client.post("/write", headers=auth(issuer.mint(scp=["items:read"])))
    assert response.status_code == 403
    assert 'scope="items:write"' in response.headers["WWW-Authenticate"]
    assert response.json is not None
    assert response.json["missing_scope"] == "items:write"
    ok = client.post("/write", headers=auth(issuer.mint(scp=["items:write"])))
    assert ok.status_code == 200


def test_require_scopes_works_on_async_views(client: FlaskClient, issuer: LocalIssuer) -> None:
    """An async def view is wrapped as one: 403 without the scope, 200 with it."""
    assert client.get("/async", headers=auth(issuer.mint(scp=["x"]))).status_code == 403
    response = client.get("/async", headers=auth(issuer.mint()))
    assert response.status_code == 200
    assert response.json == {"sub": "alice@example.com"}


def test_step_up_is_a_401_with_acr_values(client: FlaskClient, issuer: LocalIssuer) -> None:
    """RFC 9470: a weak or old sign-in is insufficient_user_authentication with the requirement."""
    weak = client.get("/stepup", headers=auth(issuer.mint(acr="urn:okta:loa:1fa:pwd")))
    assert weak.status_code == 401
    challenge = weak.headers["WWW-Authenticate"]
    assert 'error="insufficient_user_authentication"' in challenge
    assert f'acr_values="{ACR}"' in challenge
    assert 'max_age="300"' in challenge
    old = issuer.mint(acr=ACR, auth_time=int(time.time()) - 3600)
    assert client.get("/stepup", headers=auth(old)).status_code == 401
    strong = client.get("/stepup", headers=auth(issuer.mint(acr=ACR)))
    assert strong.status_code == 200


def test_a_comma_joined_double_header_is_a_400(client: FlaskClient, issuer: LocalIssuer) -> None:
    """What a WSGI server makes of two Authorization headers is refused as two: 400."""
    token = issuer.mint()
    response = client.get("/items", headers={"Authorization": f"Bearer {token},Bearer {token}"})
    assert response.status_code == 400
    assert 'error="invalid_request"' in response.headers["WWW-Authenticate"]


def test_the_check_runs_before_the_apps_own_hooks(issuer: LocalIssuer) -> None:
    """A before_request hook registered before BearerAuth never runs for a refused request."""
    app = Flask("hooks")
    ran: list[str] = []
    app.before_request(lambda: ran.append("hook"))
    BearerAuth(app, verifier=issuer.verifier())
    app.add_url_rule("/", "index", lambda: "ok")
    client = app.test_client()
    assert client.get("/").status_code == 401
    assert ran == []
    assert client.get("/", headers=auth(issuer.mint())).status_code == 200
    assert ran == ["hook"]


def test_the_metadata_document_is_served(issuer: LocalIssuer) -> None:
    """resource=: the RFC 9728 document is public, and challenges name its URL."""
    resource = "https://api.example.test/items"
    app, _ = build_app(issuer, resource=resource, verifier=issuer.verifier(audience=resource))
    client = app.test_client()
    document = client.get("/.well-known/oauth-protected-resource/items")
    assert document.status_code == 200
    assert document.json is not None
    assert document.json["resource"] == resource
    assert document.json["authorization_servers"] == [issuer.issuer]
    assert client.post("/.well-known/oauth-protected-resource").status_code == 405
    refused = client.get("/items")
    assert "resource_metadata=" in refused.headers["WWW-Authenticate"]


def test_on_error_shapes_the_body_only(issuer: LocalIssuer) -> None:
    """on_error replaces the JSON body; the status and challenge stay RFC 6750's."""
    app, _ = build_app(issuer, on_error=lambda error: {"problem": error.reason})
    response = app.test_client().get("/items")
    assert response.status_code == 401
    assert json.loads(response.data) == {"problem": "missing_token"}
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="api"'


def test_optional_lets_anonymous_requests_in(issuer: LocalIssuer) -> None:
    """optional=True: no token reaches the view with g.claims None; a bad token is still 401."""
    app, _ = build_app(issuer, optional=True)
    client = app.test_client()
    assert client.get("/health").status_code == 200
    assert client.get("/who").status_code == 401  # current_claims: no claims
    assert client.get("/items", headers=auth("a.b.c")).status_code == 401


def test_blueprints_protect_only_their_routes(issuer: LocalIssuer) -> None:
    """blueprints=[api]: api and its nested admin need a token; the rest of the app does not."""
    client = blueprint_app(issuer).test_client()
    assert client.get("/").status_code == 200
    assert client.get("/api/items").status_code == 401
    assert client.get("/api/admin/users").status_code == 401
    assert client.get("/api/items", headers=auth(issuer.mint())).status_code == 200


@pytest.mark.parametrize("method", ["OPTIONS", "HEAD", "POST", "BREW"])
def test_a_protected_blueprint_tells_its_methods_only_after_authentication(
    issuer: LocalIssuer, method: str
) -> None:
    """Inside a protected blueprint, OPTIONS, HEAD and a wrong method are 401 without a token."""
    client = blueprint_app(issuer).test_client()
    assert client.open("/api/items", method=method).status_code == 401
    expected = 405 if method in ("POST", "BREW") else 200
    assert client.open("/api/items", method=method, headers=auth(issuer.mint())).status_code == (
        expected
    )


def test_blueprints_by_name_and_nested(issuer: LocalIssuer) -> None:
    """A nested blueprint can be named by its dotted name; the parent stays open then."""
    client = blueprint_app(issuer, blueprints=["api.admin"]).test_client()
    assert client.get("/api/admin/users").status_code == 401
    assert client.get("/api/items").status_code == 401  # current_claims without claims
    assert client.get("/").status_code == 200


def test_an_unregistered_blueprint_refuses_to_serve(issuer: LocalIssuer) -> None:
    """A misspelt blueprint name would leave routes open: the app answers nothing but errors."""
    app = blueprint_app(issuer, blueprints=["apii"])
    with pytest.raises(ConfigurationError, match="apii"):
        app.test_client().get("/api/items")


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"blueprints": "api"}, "blueprints must be a list"),
        ({"blueprints": []}, "blueprints must name at least one"),
        ({"public_path": ["/x"]}, "did you mean 'public_paths'"),
        ({"required_scopes": "items:read"}, "required_scopes must be a list"),
    ],
)
def test_option_mistakes_name_the_option(
    issuer: LocalIssuer, options: dict[str, Any], match: str
) -> None:
    """Wrong options raise ConfigurationError naming them, as the ASGI middleware does."""
    with pytest.raises(ConfigurationError, match=match):
        BearerAuth(Flask("x"), verifier=issuer.verifier(), **options)


def test_init_app_later_and_only_once(issuer: LocalIssuer) -> None:
    """The factory pattern works; a second BearerAuth on one app is a ConfigurationError."""
    auth_ext = BearerAuth(verifier=issuer.verifier())
    app = Flask("factory")
    auth_ext.init_app(app)
    app.add_url_rule("/", "index", lambda: "ok")
    assert app.test_client().get("/").status_code == 401
    with pytest.raises(ConfigurationError, match="already has a BearerAuth"):
        BearerAuth(app, verifier=issuer.verifier())


def test_scope_decorator_checks_its_scopes_at_declaration() -> None:
    """A scope with a space is refused when the decorator is applied, not per request."""
    from okta_bearer.flask import require_scopes

    with pytest.raises(ConfigurationError, match="scope tokens"):
        require_scopes("items read")
