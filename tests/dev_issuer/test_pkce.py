"""The authorization code flow with PKCE: /v1/authorize with response_type=code, then /v1/token."""

from __future__ import annotations

import httpx
import pytest

from okta_bearer.testing import LocalIssuer

from .conftest import Clock
from .helpers import (
    BASE,
    CLIENT_ID,
    SPA,
    USER,
    authorize_params,
    jwt_part,
    pkce_pair,
    query,
    sign_in,
)

pytestmark = pytest.mark.anyio

TOKEN = f"{BASE}/v1/token"


async def get_code(
    client: httpx.AsyncClient, challenge: str, scope: str = "openid items:read"
) -> str:
    """Run /authorize with response_type=code through the sign-in form; return the code."""
    params = authorize_params(
        response_type="code",
        scope=scope,
        code_challenge=challenge,
        code_challenge_method="S256",
    )
    page = await client.get(f"{BASE}/v1/authorize", params=params)
    response = await sign_in(client, page)
    assert response.status_code == 303
    assert response.headers["location"].startswith(SPA + "?")
    found = query(response)
    assert found["state"] == "state-296bc9a0"
    assert "access_token" not in found
    return found["code"]


def redeem(
    code: str, verifier: str, overrides: dict[str, str | None] | None = None
) -> dict[str, str]:
    """The token request body for ``code``, with overrides (None drops a field)."""
    body: dict[str, str | None] = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": SPA,
        "client_id": CLIENT_ID,
        "code_verifier": verifier,
    }
    body.update(overrides or {})
    return {k: v for k, v in body.items() if v is not None}


async def test_code_exchange_returns_verifiable_tokens(
    client: httpx.AsyncClient, local: LocalIssuer, clock: Clock
) -> None:
    """A code redeemed with the right verifier yields an access token the verifier accepts."""
    verifier, challenge = pkce_pair()
    code = await get_code(client, challenge)
    response = await client.post(TOKEN, data=redeem(code, verifier))
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 3600
    assert body["scope"] == "openid items:read"
    async with local.verifier(clock=clock) as token_verifier:
        claims = await token_verifier.verify(body["access_token"], ["items:read"])
    assert claims.sub == USER
    assert jwt_part(body["id_token"], 1)["aud"] == CLIENT_ID
    assert jwt_part(body["id_token"], 1)["nonce"] == "nonce-1"


async def test_no_id_token_without_openid(client: httpx.AsyncClient, local: LocalIssuer) -> None:
    """Without the openid scope the code flow still needs openid (no default scope): refused."""
    _, challenge = pkce_pair()
    params = authorize_params(
        response_type="code", scope="items:read", code_challenge=challenge,
        code_challenge_method="S256",
    )  # fmt: skip
    response = await client.get(f"{BASE}/v1/authorize", params=params)
    assert query(response)["error"] == "invalid_scope"


async def test_code_is_single_use(client: httpx.AsyncClient) -> None:
    """A code redeemed once is invalid_grant the second time."""
    verifier, challenge = pkce_pair()
    code = await get_code(client, challenge)
    assert (await client.post(TOKEN, data=redeem(code, verifier))).status_code == 200
    again = await client.post(TOKEN, data=redeem(code, verifier))
    assert again.status_code == 400
    assert again.json()["error"] == "invalid_grant"


async def test_failed_redemption_burns_the_code(client: httpx.AsyncClient) -> None:
    """A wrong verifier consumes the code, so the attacker's failed try also stops the client."""
    verifier, challenge = pkce_pair()
    code = await get_code(client, challenge)
    wrong = await client.post(TOKEN, data=redeem(code, pkce_pair()[0]))
    assert wrong.json()["error"] == "invalid_grant"
    right = await client.post(TOKEN, data=redeem(code, verifier))
    assert right.json()["error"] == "invalid_grant"


@pytest.mark.parametrize(
    ("overrides", "status", "error"),
    [
        ({"code_verifier": "x" * 43}, 400, "invalid_grant"),
        ({"code_verifier": "short"}, 400, "invalid_grant"),
        ({"code_verifier": "é" * 50}, 400, "invalid_grant"),
        ({"redirect_uri": "http://127.0.0.1:9401/docs/oauth2-redirect"}, 400, "invalid_grant"),
        ({"client_id": "0oaunknown"}, 401, "invalid_client"),
        ({"code": "forged"}, 400, "invalid_grant"),
        ({"code_verifier": None}, 400, "invalid_request"),
        ({"code": None}, 400, "invalid_request"),
        ({"redirect_uri": None}, 400, "invalid_request"),
        ({"client_id": None}, 401, "invalid_client"),  # RFC 6749 5.2: no client auth
        ({"grant_type": None}, 400, "invalid_request"),
        ({"grant_type": "client_credentials"}, 400, "unauthorized_client"),  # public client
        ({"grant_type": "implicit"}, 400, "unsupported_grant_type"),
    ],
)
async def test_token_endpoint_errors(
    client: httpx.AsyncClient, overrides: dict[str, str | None], status: int, error: str
) -> None:
    """Each faulty token request gets its RFC 6749 5.2 error as JSON."""
    verifier, challenge = pkce_pair()
    code = await get_code(client, challenge)
    response = await client.post(TOKEN, data=redeem(code, verifier, overrides))
    assert response.status_code == status
    assert response.json()["error"] == error
    assert response.headers["cache-control"] == "no-store"


async def test_code_for_another_client_is_refused(
    client: httpx.AsyncClient, local: LocalIssuer
) -> None:
    """A code issued to one client cannot be redeemed by another registered client."""
    from okta_bearer.dev_issuer import DevClient, DevIssuer

    dev = DevIssuer(local, clients=[DevClient(CLIENT_ID, (SPA,)), DevClient("0oaother", (SPA,))])
    transport = httpx.ASGITransport(app=dev)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:9400") as c:
        verifier, challenge = pkce_pair()
        code = await get_code(c, challenge)
        response = await c.post(TOKEN, data=redeem(code, verifier, {"client_id": "0oaother"}))
    assert response.json()["error"] == "invalid_grant"


async def test_code_expires(client: httpx.AsyncClient, clock: Clock) -> None:
    """A code older than its lifetime is invalid_grant."""
    verifier, challenge = pkce_pair()
    code = await get_code(client, challenge)
    clock.now += 301
    response = await client.post(TOKEN, data=redeem(code, verifier))
    assert response.json()["error"] == "invalid_grant"


async def test_token_endpoint_wants_a_form(client: httpx.AsyncClient) -> None:
    """A JSON body is refused with 415 invalid_request, not a 500."""
    response = await client.post(TOKEN, json={"grant_type": "authorization_code"})
    assert response.status_code == 415
    assert response.json()["error"] == "invalid_request"


async def test_token_endpoint_allows_the_spa_origin(client: httpx.AsyncClient) -> None:
    """The SPA's origin passes the CORS preflight for /v1/token; another origin does not."""
    headers = {
        "origin": "http://127.0.0.1:9402",
        "access-control-request-method": "POST",
        "access-control-request-headers": "content-type",
    }
    ok = await client.options(TOKEN, headers=headers)
    assert ok.status_code == 200
    assert ok.headers["access-control-allow-origin"] == "http://127.0.0.1:9402"
    bad = await client.options(TOKEN, headers=headers | {"origin": "https://evil.example"})
    assert bad.status_code == 400
    assert "access-control-allow-origin" not in bad.headers
