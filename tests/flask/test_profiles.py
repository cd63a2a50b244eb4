"""DPoP, introspection and metrics through the Flask extension: the ASGI side's settings objects."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from okta_bearer import DPoPSettings
from okta_bearer._events import Events
from okta_bearer.flask import BearerAuth, current_claims, require_scopes
from okta_bearer.testing import DPoPKey, IntrospectionServer, LocalIssuer

URL = "http://localhost/"


def dpop_app(issuer: LocalIssuer, **settings: Any) -> tuple[Flask, BearerAuth]:
    """``/`` behind BearerAuth with DPoP accepted (a fresh memory store)."""
    app = Flask("dpop")
    auth = BearerAuth(app, verifier=issuer.verifier(), dpop=DPoPSettings(**settings))
    app.add_url_rule("/", "root", lambda: {"jkt": current_claims.jkt})
    return app, auth


def test_a_dpop_request_is_accepted_once(okta_issuer: LocalIssuer) -> None:
    """A bound token with its proof is accepted; the same proof again is a replay (401)."""
    app, _ = dpop_app(okta_issuer)
    client = app.test_client()
    key = DPoPKey()
    token = okta_issuer.mint(cnf={"jkt": key.jkt})
    headers = key.headers("GET", URL, token)
    accepted = client.get("/", headers=headers)
    assert accepted.status_code == 200
    assert accepted.json == {"jkt": key.jkt}
    replayed = client.get("/", headers=headers)
    assert replayed.status_code == 401
    assert 'DPoP algs="' in replayed.headers.getlist("WWW-Authenticate")[1]
    assert 'error="invalid_dpop_proof"' in replayed.headers.getlist("WWW-Authenticate")[1]


def test_a_bound_token_sent_as_bearer_is_refused(okta_issuer: LocalIssuer) -> None:
    """RFC 9449 section 7.2: a DPoP-bound token without its proof is 401 invalid_token."""
    app, _ = dpop_app(okta_issuer)
    token = okta_issuer.mint(cnf={"jkt": DPoPKey().jkt})
    refused = app.test_client().get("/", headers={"Authorization": f"Bearer {token}"})
    assert refused.status_code == 401
    assert 'error="invalid_token"' in refused.headers.getlist("WWW-Authenticate")[0]


def test_server_nonces_are_asked_for_then_accepted(okta_issuer: LocalIssuer) -> None:
    """With nonces on, a proof without one gets use_dpop_nonce and DPoP-Nonce; with it, 200."""
    app, _ = dpop_app(okta_issuer, nonce_secret=b"n" * 32)
    client = app.test_client()
    key = DPoPKey()
    token = okta_issuer.mint(cnf={"jkt": key.jkt})
    asked = client.get("/", headers=key.headers("GET", URL, token))
    assert asked.status_code == 401
    nonce = asked.headers["DPoP-Nonce"]
    answered = client.get("/", headers=key.headers("GET", URL, token, nonce=nonce))
    assert answered.status_code == 200


def test_a_fresh_nonce_is_offered_on_success(
    okta_issuer: LocalIssuer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When the guard has a newer nonce to offer, the view's answer carries DPoP-Nonce."""
    app, auth = dpop_app(okta_issuer)
    guard = auth.gate.settings.dpop
    assert guard is not None
    monkeypatch.setattr(guard, "nonce_to_offer", lambda proof: "next-nonce")
    key = DPoPKey()
    token = okta_issuer.mint(cnf={"jkt": key.jkt})
    answer = app.test_client().get("/", headers=key.headers("GET", URL, token))
    assert answer.status_code == 200
    assert answer.headers["DPoP-Nonce"] == "next-nonce"


def test_opaque_tokens_through_introspection(okta_issuer: LocalIssuer) -> None:
    """An IntrospectionVerifier judges opaque tokens with its blocking face; revoked is 401."""
    server = IntrospectionServer(okta_issuer)
    app = Flask("opaque")
    BearerAuth(app, verifier=server.verifier(), required_scopes=["items:read"])
    app.add_url_rule("/", "root", lambda: {"sub": current_claims.sub})
    client = app.test_client()
    token = server.mint_opaque()
    assert client.get("/", headers={"Authorization": f"Bearer {token}"}).json == {
        "sub": "alice@example.com"
    }
    revoked = server.mint_opaque()
    server.revoke(revoked)
    refused = client.get("/", headers={"Authorization": f"Bearer {revoked}"})
    assert refused.status_code == 401
    assert 'error="invalid_token"' in refused.headers["WWW-Authenticate"]


class Recorder(Events):
    """Every request outcome reported."""

    def __init__(self) -> None:
        self.outcomes: list[tuple[str, str]] = []

    def request(self, outcome: str, reason: str, seconds: float) -> None:
        self.outcomes.append((outcome, reason))


def test_every_request_is_reported_once(okta_issuer: LocalIssuer) -> None:
    """events= sees each request once: admitted, refused by the gate, refused by the view."""
    events = Recorder()
    app = Flask("metrics")
    BearerAuth(app, verifier=okta_issuer.verifier(), events=events)

    @app.get("/write")
    @require_scopes("items:write")
    def write() -> str:
        return "ok"

    app.add_url_rule("/", "root", lambda: "ok")
    client = app.test_client()
    client.get("/", headers=okta_issuer.headers())
    client.get("/")
    client.get("/write", headers=okta_issuer.headers())
    assert events.outcomes == [
        ("ok", "ok"),
        ("missing_token", "missing_token"),
        ("insufficient_scope", "missing_scope"),
    ]
