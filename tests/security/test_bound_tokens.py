"""A sender-constrained token never works as a bearer token, whatever the entry point.

RFC 9449 section 7.2: a token bound to a key (``cnf``; an introspection
answer's ``token_type: DPoP``) sent without proof of possession is refused
with 401 ``invalid_token`` before any scope is checked, so a thief learns
neither the token's worth nor the API's scope names.  Every binding the
library knows of is tried at every entry point: the middleware with DPoP off
and in each mode, FastAPI, the MCP SDK's verifier, introspected tokens, and
``check_bearer`` for direct callers.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from okta_bearer import (
    BearerAuthMiddleware,
    Claims,
    DPoPSettings,
    InvalidToken,
    Verifier,
    check_bearer,
)
from okta_bearer.fastapi import protect, require_scopes
from okta_bearer.mcp import McpTokenVerifier
from okta_bearer.testing import DPoPKey, IntrospectionServer, LocalIssuer

pytestmark = pytest.mark.anyio

BASE = "http://api.example.test"

#: name -> (cnf claim, reason of the refusal): every shape of ``cnf`` binds.
JWT_BINDINGS: dict[str, tuple[Any, str]] = {
    "cnf-jkt": ({"jkt": "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"}, "dpop_downgrade"),
    "cnf-x5t": ({"x5t#S256": "bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2"}, "uncheckable_binding"),
    "cnf-jkt-and-x5t": ({"jkt": "abc", "x5t#S256": "abc"}, "uncheckable_binding"),
    "cnf-jwk": ({"jwk": {"kty": "OKP", "crv": "Ed25519", "x": "abc"}}, "uncheckable_binding"),
    "cnf-kid": ({"kid": "key-1"}, "uncheckable_binding"),
    "cnf-jkt-number": ({"jkt": 5}, "uncheckable_binding"),
    "cnf-jkt-empty": ({"jkt": ""}, "uncheckable_binding"),
    "cnf-empty": ({}, "uncheckable_binding"),
    "cnf-string": ("abc", "uncheckable_binding"),
    "cnf-null": (None, "uncheckable_binding"),
}

#: name -> (extra introspection answer members, reason): RFC 9449 section 6.2.
INTROSPECTED_BINDINGS: dict[str, tuple[dict[str, Any], str]] = {
    "token-type-dpop": ({"token_type": "DPoP"}, "uncheckable_binding"),
    "token-type-dpop-lower": ({"token_type": "dpop"}, "uncheckable_binding"),
    "token-type-dpop-upper": ({"token_type": "DPOP"}, "uncheckable_binding"),
    "token-type-bearer-cnf-jkt": (
        {"token_type": "Bearer", "cnf": {"jkt": "abc"}},
        "dpop_downgrade",
    ),
    "token-type-dpop-cnf-jkt": ({"token_type": "DPoP", "cnf": {"jkt": "abc"}}, "dpop_downgrade"),
    "token-type-bearer-cnf-x5t": (
        {"token_type": "Bearer", "cnf": {"x5t#S256": "abc"}},
        "uncheckable_binding",
    ),
}

#: Middleware DPoP settings under which Bearer is accepted at all.
MODES: dict[str, DPoPSettings | None] = {
    "dpop-off": None,
    "dpop-bearer-mode": DPoPSettings(mode="bearer"),
    "dpop-allowed": DPoPSettings(mode="allowed"),
}


async def echo(request: Request) -> JSONResponse:
    """The app behind the middleware: reaching it means the token was accepted."""
    return JSONResponse({"sub": request.user.claims.sub})


async def status_of(app: Any, token: str) -> httpx.Response:
    """GET /me with ``token`` as a bearer token."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
        return await client.get("/me", headers={"authorization": f"Bearer {token}"})


#: Where the scope the tokens lack is required: the binding comes first either way.
SCOPES_ON = ["middleware", "verifier"]


def verifier_options(scopes_on: str) -> dict[str, Any]:
    """The verifier's own ``required_scopes`` when the scope is required there."""
    return {"required_scopes": ["admin"]} if scopes_on == "verifier" else {}


def starlette_app(verifier: Verifier, dpop: DPoPSettings | None, scopes_on: str) -> Starlette:
    """/me behind the middleware; ``admin``, which the tokens lack, is required somewhere."""
    app = Starlette(routes=[Route("/me", echo)])
    scopes = ["admin"] if scopes_on == "middleware" else []
    return BearerAuthMiddleware(app, verifier, required_scopes=scopes, dpop=dpop)  # type: ignore[return-value]


def assert_refused(response: httpx.Response, reason: str) -> None:
    """401 invalid_token naming the binding problem, and no scope named anywhere."""
    assert response.status_code == 401, response.text
    assert response.json()["error"] == "invalid_token"
    assert "admin" not in response.headers.get("www-authenticate", "")
    assert "admin" not in response.text
    description = {
        "dpop_downgrade": "requires the DPoP scheme",
        "uncheckable_binding": "cannot check",
    }[reason]
    assert description in response.json()["error_description"]


def introspected(server: IntrospectionServer, members: dict[str, Any]) -> str:
    """An opaque token whose introspection answer carries ``members``."""
    token = server.mint_opaque()
    answer = {**server.registry.answer(token), **members}
    server.answer_override = httpx.Response(200, json=answer)
    return token


@pytest.mark.parametrize("scopes_on", SCOPES_ON)
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("binding", JWT_BINDINGS)
async def test_bound_jwt_as_bearer_refused_by_the_middleware(
    okta_issuer: LocalIssuer, binding: str, mode: str, scopes_on: str
) -> None:
    """A JWT with any cnf is 401 as Bearer, before the middleware's or verifier's scopes."""
    cnf, reason = JWT_BINDINGS[binding]
    verifier = okta_issuer.verifier(**verifier_options(scopes_on))
    app = starlette_app(verifier, MODES[mode], scopes_on)
    assert_refused(await status_of(app, okta_issuer.mint(cnf=cnf)), reason)


@pytest.mark.parametrize("scopes_on", SCOPES_ON)
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("binding", INTROSPECTED_BINDINGS)
async def test_bound_introspected_token_as_bearer_refused(
    okta_issuer: LocalIssuer, binding: str, mode: str, scopes_on: str
) -> None:
    """An introspection answer with token_type DPoP or a cnf is 401 as Bearer (RFC 9449 6.2)."""
    members, reason = INTROSPECTED_BINDINGS[binding]
    server = IntrospectionServer(okta_issuer)
    token = introspected(server, members)
    async with server.verifier(**verifier_options(scopes_on)) as verifier:
        response = await status_of(starlette_app(verifier, MODES[mode], scopes_on), token)
    assert_refused(response, reason)


async def test_introspected_bearer_token_type_is_accepted(okta_issuer: LocalIssuer) -> None:
    """The control: token_type Bearer without cnf is an ordinary bearer token."""
    server = IntrospectionServer(okta_issuer)
    token = introspected(server, {"token_type": "Bearer", "scope": "admin"})
    async with server.verifier() as verifier:
        response = await status_of(starlette_app(verifier, None, "middleware"), token)
    assert response.status_code == 200


@pytest.mark.parametrize("binding", JWT_BINDINGS)
async def test_bound_jwt_as_bearer_refused_by_fastapi(
    okta_issuer: LocalIssuer, binding: str
) -> None:
    """protect() with require_scopes: a bound token is 401, the route's scope never named."""
    cnf, reason = JWT_BINDINGS[binding]
    app = FastAPI()
    protect(app, okta_issuer.verifier())

    @app.get("/me")
    async def me(claims: Claims = require_scopes("admin")) -> dict[str, Any]:
        return {"sub": claims.sub}

    assert_refused(await status_of(app, okta_issuer.mint(cnf=cnf)), reason)


@pytest.mark.parametrize("binding", JWT_BINDINGS)
async def test_bound_jwt_refused_by_the_mcp_verifier(
    okta_issuer: LocalIssuer, binding: str, caplog: pytest.LogCaptureFixture
) -> None:
    """McpTokenVerifier (the SDK's Bearer-only path) refuses every bound token."""
    cnf, reason = JWT_BINDINGS[binding]
    verifier = McpTokenVerifier(okta_issuer.verifier(), required_scopes=["admin"])
    caplog.set_level("DEBUG", "okta_bearer")
    assert await verifier.verify_token(okta_issuer.mint(cnf=cnf, scp=["admin"])) is None
    assert reason in caplog.text


@pytest.mark.parametrize("binding", INTROSPECTED_BINDINGS)
async def test_bound_introspected_token_refused_by_the_mcp_verifier(
    okta_issuer: LocalIssuer, binding: str
) -> None:
    """McpTokenVerifier over introspection refuses token_type DPoP and cnf answers."""
    members, _ = INTROSPECTED_BINDINGS[binding]
    server = IntrospectionServer(okta_issuer)
    token = introspected(server, members)
    async with server.verifier() as inner:
        assert await McpTokenVerifier(inner).verify_token(token) is None


@pytest.mark.parametrize("binding", JWT_BINDINGS)
async def test_direct_callers_check_bearer(okta_issuer: LocalIssuer, binding: str) -> None:
    """check_bearer() is the one rule a direct caller of verify() applies."""
    cnf, reason = JWT_BINDINGS[binding]
    async with okta_issuer.verifier() as verifier:
        claims = await verifier.verify(okta_issuer.mint(cnf=cnf))
        with pytest.raises(InvalidToken) as caught:
            check_bearer(claims)
        assert caught.value.reason == reason
        check_bearer(await verifier.verify(okta_issuer.mint()))


async def test_proof_checked_before_the_verifiers_own_scopes(okta_issuer: LocalIssuer) -> None:
    """DPoP scheme: a bad proof is 401 before a verifier's scope; a good one then gets 403."""
    key = DPoPKey()
    verifier = okta_issuer.verifier(required_scopes=["admin"])
    app = BearerAuthMiddleware(
        Starlette(routes=[Route("/me", echo)]), verifier, dpop=DPoPSettings()
    )
    token = okta_issuer.mint(cnf={"jkt": key.jkt})
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
        wrong = await client.get("/me", headers=key.headers("GET", f"{BASE}/other", token))
        right = await client.get("/me", headers=key.headers("GET", f"{BASE}/me", token))
    assert wrong.status_code == 401
    assert 'error="invalid_dpop_proof"' in wrong.headers.get_list("www-authenticate")[1]
    assert "admin" not in wrong.text + " ".join(wrong.headers.get_list("www-authenticate"))
    assert right.status_code == 403


def test_claims_built_by_hand_know_their_binding(okta_issuer: LocalIssuer) -> None:
    """Claims made without from_payload (a custom verifier) read the binding from raw."""
    base = Claims.from_payload(okta_issuer.claims())
    by_hand = Claims(
        sub=base.sub,
        scopes=base.scopes,
        client_id=base.client_id,
        uid=base.uid,
        issuer=base.issuer,
        audience=base.audience,
        expires_at=base.expires_at,
        issued_at=base.issued_at,
        jti=base.jti,
        raw={"cnf": {"jkt": "abc"}},
    )
    assert by_hand.binding == "jkt"
    with pytest.raises(InvalidToken, match="dpop_downgrade"):
        check_bearer(by_hand)
