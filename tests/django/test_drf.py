"""Django REST framework: BearerAuthentication and HasScopes, with and without the middleware."""

from __future__ import annotations

import pytest
from django.test import Client, override_settings

from okta_bearer._events import Events
from okta_bearer.testing import LocalIssuer

from .helpers import NO_MIDDLEWARE, bearer
from .views import REACHED


def test_valid_token_sets_auth_and_user(setup: str, okta_django: LocalIssuer) -> None:
    """request.auth is the claims and request.user a TokenUser named by the subject."""
    response = Client().get("/drf/items", headers=bearer(okta_django.mint()))
    assert response.status_code == 200
    assert response.json() == {
        "view": "drf.get",
        "sub": "alice@example.com",
        "user": "alice@example.com",
    }


def test_scopes_per_method(setup: str, okta_django: LocalIssuer) -> None:
    """GET needs items:read and POST items:write: a read token posting is 403 naming the scope."""
    token = okta_django.mint(scp=["items:read"])
    client = Client()
    assert client.get("/drf/items", headers=bearer(token)).status_code == 200
    refused = client.post("/drf/items", headers=bearer(token))
    assert refused.status_code == 403
    challenge = refused["WWW-Authenticate"]
    assert challenge.startswith('Bearer realm="api", error="insufficient_scope"')
    assert challenge.endswith('scope="items:write"')
    assert refused["Cache-Control"] == "no-store"
    assert refused.json()["error"] == "insufficient_scope"
    assert REACHED == ["drf.get"]


def test_no_token_is_401_with_the_challenge(setup: str) -> None:
    """No token: 401 carrying WWW-Authenticate (DRF's authenticate_header), never 403."""
    response = Client().get("/drf/items")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'
    assert REACHED == []


def test_invalid_token_is_401_invalid_token(setup: str, okta_django: LocalIssuer) -> None:
    """An expired token: 401 invalid_token with the RFC 6750 body, not DRF's detail."""
    token = okta_django.mint(exp=1)
    response = Client().get("/drf/items", headers=bearer(token))
    assert response.status_code == 401
    assert 'error="invalid_token"' in response["WWW-Authenticate"]
    assert response.json()["error"] == "invalid_token"
    assert token not in response.content.decode()
    assert REACHED == []


@pytest.mark.parametrize("method", ["OPTIONS", "HEAD", "PUT", "DELETE", "PROPFIND"])
def test_other_methods_need_a_token(setup: str, method: str) -> None:
    """OPTIONS (DRF's metadata), HEAD and methods the view lacks: 401 without a token."""
    response = Client().generic(method, "/drf/items")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'
    assert b"items" not in response.content
    assert REACHED == []


@pytest.mark.parametrize("method", ["OPTIONS", "PUT", "PROPFIND"])
def test_undeclared_methods_are_closed(setup: str, okta_django: LocalIssuer, method: str) -> None:
    """With a method table, a method it does not name is 403 even for a valid token."""
    token = okta_django.mint(scp=["items:read", "items:write"])
    response = Client().generic(method, "/drf/items", headers=bearer(token))
    assert response.status_code == 403
    assert b"POST" not in response.content  # no metadata describing the view
    assert REACHED == []


def test_head_uses_get_scopes(setup: str, okta_django: LocalIssuer) -> None:
    """HEAD without its own entry needs GET's scopes."""
    client = Client()
    assert client.head("/drf/items", headers=bearer(okta_django.mint(scp=["x"]))).status_code == 403
    ok = client.head("/drf/items", headers=bearer(okta_django.mint(scp=["items:read"])))
    assert ok.status_code == 200


def test_required_scopes_for_every_method(setup: str, okta_django: LocalIssuer) -> None:
    """required_scopes applies to every method, OPTIONS included."""
    client = Client()
    token = okta_django.mint(scp=["other"])
    assert client.get("/drf/any", headers=bearer(token)).status_code == 403
    assert client.options("/drf/any", headers=bearer(token)).status_code == 403
    good = okta_django.mint(scp=["items:read"])
    assert client.options("/drf/any", headers=bearer(good)).status_code == 200


def test_public_drf_view(setup: str, okta_django: LocalIssuer) -> None:
    """An AllowAny view on a public path runs without a token (request.auth None)."""
    response = Client().get("/public/drf")
    assert response.status_code == 200
    assert response.json() == {"view": "drf_open.get", "sub": None}


def test_token_on_a_public_path_is_not_judged(okta_django: LocalIssuer) -> None:
    """On a public path the gate judges nothing: a token sent there gives no claims."""
    with NO_MIDDLEWARE:
        response = Client().get("/public/drf", headers=bearer(okta_django.mint()))
    assert response.status_code == 200
    assert response.json()["sub"] is None


def test_keys_outage_is_503_with_retry_after(setup: str, okta_django: LocalIssuer) -> None:
    """The issuer down: 503 with Retry-After and no challenge through DRF too, never a 500."""
    import httpx

    from .project import base_options

    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("down", request=request)

    options = base_options(okta_django, transport=httpx.MockTransport(down))
    with override_settings(OKTA_BEARER=options):
        response = Client().get("/drf/items", headers=bearer(okta_django.mint()))
    assert response.status_code == 503
    assert int(response["Retry-After"]) > 0
    assert "WWW-Authenticate" not in response
    assert REACHED == []


def test_verified_once_behind_the_middleware(
    okta_django: LocalIssuer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Behind the middleware DRF reuses its verdict: the gate judges the request once."""
    from okta_bearer._http.gate import Gate

    calls: list[str] = []
    original = Gate.judge

    def counting(self: Gate, scope: dict[str, object]) -> object:
        calls.append(str(scope["path"]))
        return original(self, scope)

    monkeypatch.setattr(Gate, "judge", counting)
    assert Client().get("/drf/items", headers=bearer(okta_django.mint())).status_code == 200
    assert calls == ["/drf/items"]


def test_allow_any_view_without_middleware(okta_django: LocalIssuer) -> None:
    """DRF alone: an AllowAny view serves no token as anonymous, but refuses a bad token (401)."""
    with NO_MIDDLEWARE:
        client = Client()
        anonymous = client.get("/drf/open")
        valid = client.get("/drf/open", headers=bearer(okta_django.mint()))
        bad = client.get("/drf/open", headers=bearer(okta_django.mint(exp=1)))
    assert (anonymous.status_code, anonymous.json()["sub"]) == (200, None)
    assert valid.json()["sub"] == "alice@example.com"
    assert bad.status_code == 401
    assert 'error="invalid_token"' in bad["WWW-Authenticate"]


def test_allow_any_view_behind_the_middleware_needs_a_token(okta_django: LocalIssuer) -> None:
    """Behind the middleware deny by default holds for DRF: AllowAny off a public path is 401."""
    assert Client().get("/drf/open").status_code == 401
    assert REACHED == []


class Recorder(Events):
    """Records every judged request's outcome and reason."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str]] = []

    def request(self, outcome: str, reason: str, seconds: float) -> None:
        self.requests.append((outcome, reason))


def test_each_request_is_reported_once(setup: str, okta_django: LocalIssuer) -> None:
    """With events, an admitted and a refused DRF request are each reported exactly once."""
    from .project import base_options

    events = Recorder()
    with override_settings(OKTA_BEARER=base_options(okta_django, events=events)):
        client = Client()
        client.get("/drf/items", headers=bearer(okta_django.mint()))
        client.get("/drf/items", headers=bearer(okta_django.mint(exp=1)))
    assert [outcome for outcome, _ in events.requests] == ["ok", "invalid_token"]


def test_drf_view_on_the_metadata_path_without_middleware(okta_django: LocalIssuer) -> None:
    """DRF alone: a view routed where the RFC 9728 document lives runs anonymous, not a 500."""
    from .project import base_options

    options = base_options(okta_django, resource="https://api.example.test/drf")
    with override_settings(OKTA_BEARER=options), NO_MIDDLEWARE:
        response = Client().get("/.well-known/oauth-protected-resource/drf")
    assert response.status_code == 200
    assert response.json() == {"view": "drf_open.get", "sub": None}
