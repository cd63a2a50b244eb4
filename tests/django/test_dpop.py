"""DPoP through Django: the middleware and DRF alone, nonces, replays and two challenges."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.test import Client, override_settings

from okta_bearer.testing import DPoPKey, LocalIssuer

from .project import base_options
from .views import REACHED

SECRET = "0123456789abcdef0123456789abcdef"


@pytest.fixture(params=["middleware", "drf-only"])
def dpop_setup(request: pytest.FixtureRequest, okta_django: LocalIssuer) -> Iterator[str]:
    """DPoP allowed with server nonces, behind the middleware and with DRF's classes alone."""
    options = base_options(okta_django, dpop={"mode": "allowed", "nonce_secret": SECRET})
    middleware = [] if request.param == "drf-only" else ["okta_bearer.django.BearerAuthMiddleware"]
    with override_settings(OKTA_BEARER=options, MIDDLEWARE=middleware):
        yield request.param


def test_nonce_challenge_then_success(dpop_setup: str, okta_django: LocalIssuer) -> None:
    """A proof without a nonce is 401 use_dpop_nonce carrying DPoP-Nonce; with it, 200."""
    key = DPoPKey()
    token = okta_django.mint(cnf={"jkt": key.jkt})
    url = "http://testserver/drf/items"
    client = Client()
    first = client.get("/drf/items", headers=key.headers("GET", url, token))
    assert first.status_code == 401
    assert 'error="use_dpop_nonce"' in first["WWW-Authenticate"]
    assert first["Cache-Control"] == "no-store"
    nonce = first["DPoP-Nonce"]
    second = client.get("/drf/items", headers=key.headers("GET", url, token, nonce=nonce))
    assert second.status_code == 200, second.content
    assert REACHED == ["drf.get"]


def test_replayed_proof_is_refused(dpop_setup: str, okta_django: LocalIssuer) -> None:
    """The same proof twice: the second is 401 invalid_dpop_proof."""
    key = DPoPKey()
    token = okta_django.mint(cnf={"jkt": key.jkt})
    url = "http://testserver/drf/items"
    client = Client()
    nonce = client.get("/drf/items", headers=key.headers("GET", url, token))["DPoP-Nonce"]
    headers = key.headers("GET", url, token, nonce=nonce)
    assert client.get("/drf/items", headers=headers).status_code == 200
    replay = client.get("/drf/items", headers=headers)
    assert replay.status_code == 401
    assert 'error="invalid_dpop_proof"' in replay["WWW-Authenticate"]


def test_bound_token_sent_as_bearer_is_refused(dpop_setup: str, okta_django: LocalIssuer) -> None:
    """A DPoP-bound token sent as Bearer is 401 before any scope is looked at."""
    token = okta_django.mint(cnf={"jkt": DPoPKey().jkt}, scp=[])
    response = Client().get("/drf/items", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert 'error="invalid_token"' in response["WWW-Authenticate"]
    assert "insufficient_scope" not in response.content.decode()


def test_both_challenges_in_one_field(dpop_setup: str) -> None:
    """No token: the Bearer and the DPoP challenge, comma-joined in one WWW-Authenticate field."""
    response = Client().get("/drf/items")
    assert response.status_code == 401
    bearer, _, dpop = response["WWW-Authenticate"].partition(", DPoP ")
    assert bearer == 'Bearer realm="api"'
    assert dpop.startswith('algs="')


def test_django_view_behind_the_middleware(okta_django: LocalIssuer) -> None:
    """A plain Django view takes a DPoP request and its proof is bound to the view's URL."""
    key = DPoPKey()
    token = okta_django.mint(cnf={"jkt": key.jkt})
    options = base_options(okta_django, dpop={"mode": "required"})
    with override_settings(OKTA_BEARER=options):
        client = Client()
        ok = client.get("/items", headers=key.headers("GET", "http://testserver/items", token))
        elsewhere = client.get("/items", headers=key.headers("GET", "http://testserver/x", token))
    assert ok.status_code == 200
    assert ok.json()["sub"] == "alice@example.com"
    assert elsewhere.status_code == 401
    assert elsewhere["WWW-Authenticate"].startswith("DPoP ")


def test_exception_handler_is_what_carries_the_nonce(okta_django: LocalIssuer) -> None:
    """DRF alone: DRF's own handler drops DPoP-Nonce and no-store; exception_handler keeps them."""
    from .project import REST_FRAMEWORK

    key = DPoPKey()
    token = okta_django.mint(cnf={"jkt": key.jkt})
    options = base_options(okta_django, dpop={"mode": "allowed", "nonce_secret": SECRET})
    plain = {k: v for k, v in REST_FRAMEWORK.items() if k != "EXCEPTION_HANDLER"}
    headers = key.headers("GET", "http://testserver/drf/items", token)
    with override_settings(OKTA_BEARER=options, MIDDLEWARE=[], REST_FRAMEWORK=plain):
        bare = Client().get("/drf/items", headers=headers)
    assert bare.status_code == 401
    assert 'error="use_dpop_nonce"' in bare["WWW-Authenticate"]
    assert "DPoP-Nonce" not in bare
    assert "Cache-Control" not in bare


def test_proof_names_the_full_url_under_script_name(okta_django: LocalIssuer) -> None:
    """Mounted under SCRIPT_NAME, a proof's htu is the URL the client called, prefix included."""
    key = DPoPKey()
    token = okta_django.mint(cnf={"jkt": key.jkt})
    with override_settings(OKTA_BEARER=base_options(okta_django, dpop={"mode": "required"})):
        client = Client()
        full = key.headers("GET", "http://testserver/api/items", token)
        short = key.headers("GET", "http://testserver/items", token)
        assert client.get("/items", SCRIPT_NAME="/api", headers=full).status_code == 200
        assert client.get("/items", SCRIPT_NAME="/api", headers=short).status_code == 401
