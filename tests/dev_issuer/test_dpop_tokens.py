"""The dev issuer's /v1/token issues DPoP-bound tokens when the request carries a proof."""

from __future__ import annotations

import httpx
import pytest

from okta_bearer._dpop.proof import check_binding
from okta_bearer._testing.dpop import DPoPKey
from okta_bearer.testing import LocalIssuer

from .conftest import Clock
from .helpers import pkce_pair
from .test_pkce import TOKEN, get_code, redeem

pytestmark = pytest.mark.anyio


async def test_proof_gets_a_bound_dpop_token(
    client: httpx.AsyncClient, local: LocalIssuer, clock: Clock
) -> None:
    """A valid DPoP proof gets token_type DPoP and a token whose cnf.jkt is the key's."""
    key = DPoPKey(clock=clock)
    verifier, challenge = pkce_pair()
    code = await get_code(client, challenge)
    proof = key.proof("POST", f"{local.issuer}/v1/token")
    response = await client.post(TOKEN, data=redeem(code, verifier), headers={"DPoP": proof})
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "DPoP"
    async with local.verifier(clock=clock) as token_verifier:
        claims = await token_verifier.verify(body["access_token"])
    check_binding(claims.raw, key.jkt)


async def test_without_proof_the_token_is_bearer(
    client: httpx.AsyncClient, local: LocalIssuer, clock: Clock
) -> None:
    """Without a proof nothing changes: a Bearer token with no cnf claim."""
    verifier, challenge = pkce_pair()
    code = await get_code(client, challenge)
    body = (await client.post(TOKEN, data=redeem(code, verifier))).json()
    assert body["token_type"] == "Bearer"
    async with local.verifier(clock=clock) as token_verifier:
        assert "cnf" not in (await token_verifier.verify(body["access_token"])).raw


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/v1/token"), ("POST", "/v1/userinfo")],
)
async def test_proof_for_another_request_is_invalid_dpop_proof(
    client: httpx.AsyncClient, local: LocalIssuer, clock: Clock, method: str, path: str
) -> None:
    """A proof made for another method or URL is answered 400 invalid_dpop_proof."""
    verifier, challenge = pkce_pair()
    code = await get_code(client, challenge)
    proof = DPoPKey(clock=clock).proof(method, f"{local.issuer}{path}")
    response = await client.post(TOKEN, data=redeem(code, verifier), headers={"DPoP": proof})
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_dpop_proof"


async def test_metadata_advertises_dpop_algorithms(
    client: httpx.AsyncClient, local: LocalIssuer
) -> None:
    """Discovery lists dpop_signing_alg_values_supported (RFC 9449 section 5.1)."""
    meta = (await client.get("/oauth2/default/.well-known/openid-configuration")).json()
    assert "ES256" in meta["dpop_signing_alg_values_supported"]


@pytest.mark.parametrize(
    "iat",
    [10**400, -(10**400), float("inf"), float("-inf"), float("nan"), 1e308, True, -1],
    ids=["400-digits", "minus-400-digits", "inf", "minus-inf", "nan", "1e308", "true", "neg"],
)
async def test_hostile_proof_iat_is_400_invalid_dpop_proof(
    client: httpx.AsyncClient, local: LocalIssuer, clock: Clock, iat: float
) -> None:
    """A proof whose iat is a hostile number is 400 invalid_dpop_proof, never a 500."""
    verifier, challenge = pkce_pair()
    code = await get_code(client, challenge)
    proof = DPoPKey(clock=clock).proof("POST", f"{local.issuer}/v1/token", iat=iat)
    response = await client.post(TOKEN, data=redeem(code, verifier), headers={"DPoP": proof})
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_dpop_proof"


async def test_bound_token_is_refused_at_userinfo_as_bearer(
    client: httpx.AsyncClient, local: LocalIssuer, clock: Clock
) -> None:
    """UserInfo, a protected resource, refuses a DPoP-bound token sent as Bearer (401)."""
    key = DPoPKey(clock=clock)
    token = local.mint(cnf={"jkt": key.jkt}, scp=["openid"])
    response = await client.get(
        "/oauth2/default/v1/userinfo", headers={"authorization": f"Bearer {token}"}
    )
    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["www-authenticate"]
