"""Gate.judge: the middleware's checks, in its order, for a WSGI request."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from okta_bearer import InsufficientScope, InsufficientUserAuthentication
from okta_bearer._events import Events
from okta_bearer._http.gate import Gate, Verdict
from okta_bearer._http.scope import scope_from_environ

from ._fakes import TableVerifier, payload
from .test_scope import environ

GOOD, NARROW, BOUND = "good.token.sig", "narrow.token.sig", "bound.token.sig"
TOKENS = {
    GOOD: payload(scp=["items:read", "items:write"]),
    NARROW: payload(scp=["profile"]),
    BOUND: payload(cnf={"jkt": "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"}),
}


class Recorder(Events):
    """Every request outcome reported."""

    def __init__(self) -> None:
        self.outcomes: list[tuple[str, str]] = []

    def request(self, outcome: str, reason: str, seconds: float) -> None:
        self.outcomes.append((outcome, reason))


def gate(**options: Any) -> Gate:
    """A gate over the token table, requiring items:read unless told otherwise."""
    options.setdefault("required_scopes", ["items:read"])
    return Gate(TableVerifier(TOKENS), **options)


def judge(g: Gate, authorization: str | None = None, **values: Any) -> Verdict:
    """Judge ``GET /`` (or ``values``) with this Authorization value."""
    if authorization is not None:
        values["HTTP_AUTHORIZATION"] = authorization
    return g.judge(scope_from_environ(environ(**values)))


def refusal(verdict: Verdict) -> tuple[int, dict[str, Any], dict[bytes, bytes]]:
    """Status, JSON body and headers of a refusal."""
    assert verdict.response is not None
    response = verdict.response
    return response.status, json.loads(response.body), dict(response.headers)


def test_a_valid_token_is_admitted_with_its_claims() -> None:
    """A good token gives claims and no response; nothing is added to the answer."""
    verdict = judge(gate(), f"Bearer {GOOD}")
    assert verdict.response is None
    assert verdict.claims is not None
    assert verdict.claims.sub == "alice@example.com"
    assert verdict.scheme == "Bearer"
    assert verdict.headers == []


def test_no_token_is_a_bare_challenge() -> None:
    """No Authorization header: 401 with a bare Bearer challenge, no-store."""
    status, body, headers = refusal(judge(gate()))
    assert status == 401
    assert headers[b"www-authenticate"] == b'Bearer realm="api"'
    assert headers[b"cache-control"] == b"no-store"
    assert body["error"] is None


@pytest.mark.parametrize("joined", ["Bearer a,Bearer b", f"Bearer {GOOD}, Bearer {GOOD}"])
def test_a_comma_joined_pair_is_two_headers(joined: str) -> None:
    """WSGI's joined double Authorization header is the ASGI 400 invalid_request, unverified."""
    g = gate()
    status, body, _ = refusal(judge(g, joined))
    assert status == 400
    assert body["error"] == "invalid_request"
    assert g.verifier.calls == []


def test_header_and_query_token_is_a_400() -> None:
    """A token in the header and in access_token: 400 before any verification."""
    g = gate()
    status, body, _ = refusal(judge(g, f"Bearer {GOOD}", QUERY_STRING="access_token=x"))
    assert (status, body["error"]) == (400, "invalid_request")
    assert g.verifier.calls == []


def test_a_query_token_alone_is_no_token() -> None:
    """access_token in the query is never read: a bare 401."""
    status, _, headers = refusal(judge(gate(), QUERY_STRING="access_token=" + GOOD))
    assert status == 401
    assert headers[b"www-authenticate"] == b'Bearer realm="api"'


def test_an_unknown_token_is_401() -> None:
    """The verifier's refusal becomes 401 invalid_token."""
    status, body, _ = refusal(judge(gate(), "Bearer forged.token.sig"))
    assert (status, body["error"]) == (401, "invalid_token")


def test_missing_scope_is_403_naming_it() -> None:
    """A token without the required scope: 403 insufficient_scope."""
    status, body, headers = refusal(judge(gate(), f"Bearer {NARROW}"))
    assert (status, body["missing_scope"]) == (403, "items:read")
    assert b'scope="items:read"' in headers[b"www-authenticate"]


def test_a_bound_token_as_bearer_is_401_before_scopes() -> None:
    """A DPoP-bound token sent as Bearer is refused as a token, before any scope name leaks."""
    g = gate(required_scopes=["admin"])
    status, body, _ = refusal(judge(g, f"Bearer {BOUND}"))
    assert (status, body["error"]) == (401, "invalid_token")


def test_public_paths_are_not_judged() -> None:
    """A public path (relative to SCRIPT_NAME) is let through without a token."""
    g = gate(public_paths=["/health", "/docs/"])
    assert judge(g, SCRIPT_NAME="/api", PATH_INFO="/health").public
    assert judge(g, PATH_INFO="/docs/x").public
    assert judge(g, PATH_INFO="/healthz").response is not None


def test_optional_lets_anonymous_through_but_not_bad_tokens() -> None:
    """optional=True: no token is anonymous; a bad token is still 401."""
    g = gate(optional=True)
    anonymous = judge(g)
    assert anonymous.anonymous
    assert anonymous.response is None
    assert refusal(judge(g, "Bearer forged.token.sig"))[0] == 401


def test_the_metadata_document_is_served_publicly() -> None:
    """With resource=, the RFC 9728 document answers GET without a token; POST is 405."""
    g = gate(resource="https://api.example.test/items")
    verdict = judge(g, PATH_INFO="/.well-known/oauth-protected-resource/items")
    assert verdict.response is not None
    assert verdict.response.status == 200
    document = json.loads(verdict.response.body)
    assert document["resource"] == "https://api.example.test/items"
    post = judge(g, PATH_INFO="/.well-known/oauth-protected-resource", REQUEST_METHOD="POST")
    assert post.response is not None
    assert post.response.status == 405


def test_a_view_error_becomes_the_same_answer() -> None:
    """refuse() turns a BearerError raised later into the middleware's answer, reported once."""
    events = Recorder()
    g = gate(events=events, resource="https://api.example.test/items")
    scope = scope_from_environ(environ(HTTP_AUTHORIZATION=f"Bearer {GOOD}"))
    verdict = g.judge(scope)
    response = g.refuse(scope, InsufficientScope(["items:admin"], ["items:read"]), verdict=verdict)
    assert response.status == 403
    challenge = dict(response.headers)[b"www-authenticate"]
    assert b'scope="items:read items:admin"' in challenge
    assert b"resource_metadata=" in challenge
    g.admit(verdict)  # already reported as refused: not again as ok
    assert events.outcomes == [("insufficient_scope", "missing_scope")]


def test_a_step_up_refusal_is_a_401_with_acr_values() -> None:
    """RFC 9470: the step-up error raised by a view carries acr_values in the challenge."""
    g = gate()
    scope = scope_from_environ(environ(HTTP_AUTHORIZATION=f"Bearer {GOOD}"))
    verdict = g.judge(scope)
    error = InsufficientUserAuthentication("acr_not_accepted", "Stronger", acr_values=["mfa"])
    response = g.refuse(scope, error, verdict=verdict)
    assert response.status == 401
    assert b'acr_values="mfa"' in dict(response.headers)[b"www-authenticate"]


def test_each_request_is_reported_once() -> None:
    """events= sees every judged request once: refusals at once, admissions on admit()."""
    events = Recorder()
    g = gate(events=events, optional=True)
    ok = judge(g, f"Bearer {GOOD}")
    g.admit(ok)
    g.admit(ok)
    g.admit(judge(g))
    judge(g, "Bearer forged.token.sig")
    assert events.outcomes == [
        ("ok", "ok"),
        ("anonymous", "missing_token"),
        ("invalid_token", "malformed"),
    ]


def test_a_refusal_is_logged_without_the_token(caplog: pytest.LogCaptureFixture) -> None:
    """The refusal log names the path and reason, never the token."""
    caplog.set_level(logging.INFO, logger="okta_bearer")
    judge(gate(), f"Bearer {NARROW}", PATH_INFO="/items")
    (record,) = caplog.records
    assert record.getMessage().startswith("okta_bearer: refused GET '/items': 403")
    assert NARROW not in record.getMessage()
    assert record.__dict__["reason"] == "missing_scope"
