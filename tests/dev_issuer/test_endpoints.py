"""Discovery, keys, userinfo and the loopback-only admin endpoints."""

from __future__ import annotations

import httpx
import pytest

from okta_bearer import InsufficientScope, InvalidToken, MissingToken
from okta_bearer._dpop.proof import check_binding
from okta_bearer._http.responses import ChallengeSettings, error_response
from okta_bearer.dev_issuer import DevIssuer
from okta_bearer.testing import DPoPKey, LocalIssuer

from .conftest import Clock
from .helpers import BASE, CLIENT_ID, USER, authorize_params, fragment, jwt_part, sign_in

pytestmark = pytest.mark.anyio


async def test_both_well_knowns_describe_the_issuer(client: httpx.AsyncClient) -> None:
    """Both metadata documents are served, identical, pointing at this issuer's endpoints."""
    oauth = await client.get(f"{BASE}/.well-known/oauth-authorization-server")
    oidc = await client.get(f"{BASE}/.well-known/openid-configuration")
    assert oauth.status_code == oidc.status_code == 200
    assert oauth.json() == oidc.json()
    meta = oidc.json()
    issuer = "http://127.0.0.1:9400/oauth2/default"
    assert meta["issuer"] == issuer
    assert meta["authorization_endpoint"] == f"{issuer}/v1/authorize"
    assert meta["token_endpoint"] == f"{issuer}/v1/token"
    assert meta["jwks_uri"] == f"{issuer}/v1/keys"
    assert meta["userinfo_endpoint"] == f"{issuer}/v1/userinfo"
    assert set(meta["response_types_supported"]) >= {"token", "id_token", "id_token token", "code"}
    assert {"openid", "items:read", "items:write"} <= set(meta["scopes_supported"])
    assert meta["code_challenge_methods_supported"] == ["S256"]


async def test_keys_carry_cache_control(client: httpx.AsyncClient, local: LocalIssuer) -> None:
    """/v1/keys serves the issuer's JWKS with Cache-Control max-age."""
    response = await client.get(f"{BASE}/v1/keys")
    assert response.status_code == 200
    assert response.headers["cache-control"] == f"max-age={local.keys_max_age}, must-revalidate"
    assert response.json() == local.jwks()
    assert "d" not in response.json()["keys"][0]


async def test_home_page_lists_clients(client: httpx.AsyncClient) -> None:
    """The root page names the issuer and the registered clients."""
    response = await client.get("/")
    assert response.status_code == 200
    assert CLIENT_ID in response.text


async def test_unknown_path_is_404(client: httpx.AsyncClient) -> None:
    """Unknown paths are a 404, and /v1/authorize refuses POST with 405."""
    assert (await client.get(f"{BASE}/v1/nothing")).status_code == 404
    assert (await client.post(f"{BASE}/v1/authorize")).status_code == 405


async def implicit_token(client: httpx.AsyncClient, scope: str) -> str:
    """An access token obtained through the sign-in form with ``scope``."""
    page = await client.get(f"{BASE}/v1/authorize", params=authorize_params(scope=scope))
    return fragment(await sign_in(client, page))["access_token"]


async def test_userinfo_returns_profile_claims(client: httpx.AsyncClient, dev: DevIssuer) -> None:
    """/v1/userinfo answers the signed-in user's claims for the granted scopes."""
    token = await implicit_token(client, "openid profile email")
    response = await client.get(f"{BASE}/v1/userinfo", headers={"authorization": f"Bearer {token}"})
    assert response.status_code == 200
    body = response.json()
    assert body == {
        "sub": dev.users[USER].uid,
        "name": "Alice",
        "preferred_username": USER,
        "email": USER,
        "email_verified": True,
    }


async def test_userinfo_without_profile_scope_is_minimal(client: httpx.AsyncClient) -> None:
    """Without profile/email scopes, userinfo returns only sub."""
    token = await implicit_token(client, "openid")
    headers = {"authorization": f"Bearer {token}"}
    response = await client.post(f"{BASE}/v1/userinfo", headers=headers)
    assert set(response.json()) == {"sub"}


async def test_userinfo_errors(client: httpx.AsyncClient, dev: DevIssuer) -> None:
    """No token is 401 with a Bearer challenge; a forged one 401; no openid scope 403."""
    missing = await client.get(f"{BASE}/v1/userinfo")
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"].startswith("Bearer")
    token = await implicit_token(client, "openid")
    head, body, sig = token.split(".")
    forged = f"{head}.{body}.{sig[::-1]}"
    bad = await client.get(f"{BASE}/v1/userinfo", headers={"authorization": f"Bearer {forged}"})
    assert bad.status_code == 401
    assert 'error="invalid_token"' in bad.headers["www-authenticate"]
    assert forged not in bad.text
    no_openid = dev.issue_access_token(dev.users[USER], CLIENT_ID, ["items:read"])
    scoped = await client.get(
        f"{BASE}/v1/userinfo", headers={"authorization": f"Bearer {no_openid}"}
    )
    assert scoped.status_code == 403
    assert 'error="insufficient_scope"' in scoped.headers["www-authenticate"]
    malformed = await client.get(f"{BASE}/v1/userinfo", headers={"authorization": "Bearer a b"})
    assert malformed.status_code == 400


async def test_userinfo_refusals_are_the_shared_error_response(
    client: httpx.AsyncClient, dev: DevIssuer
) -> None:
    """/v1/userinfo answers refusals exactly as error_response builds them (no realm)."""
    settings = ChallengeSettings(realm=None)
    no_openid = dev.issue_access_token(dev.users[USER], CLIENT_ID, ["items:read"])
    cases = [
        ({}, MissingToken()),
        ({"authorization": f"Bearer {no_openid}"}, InsufficientScope(["openid"], ["items:read"])),
    ]
    for headers, error in cases:
        response = await client.get(f"{BASE}/v1/userinfo", headers=headers)
        expected = error_response(error, settings)
        assert response.status_code == expected.status
        assert response.content == expected.body
        # The dev issuer's CORS layer adds Vary: Origin to every answer.
        got = [(k.lower(), v) for k, v in response.headers.raw if k.lower() != b"vary"]
        assert got == [*expected.headers, (b"pragma", b"no-cache")]


async def test_admin_mint_returns_a_token_for_curl(
    client: httpx.AsyncClient, local: LocalIssuer, clock: Clock
) -> None:
    """POST /dev/mint (JSON, loopback) returns a verifiable token with the asked scopes."""
    response = await client.post(f"{BASE}/dev/mint", json={"scopes": ["items:write"]})
    assert response.status_code == 200
    body = response.json()
    assert body["scope"] == "items:write"
    async with local.verifier(clock=clock) as verifier:
        claims = await verifier.verify(body["access_token"], ["items:write"])
    assert claims.sub == USER
    client_token = await client.post(f"{BASE}/dev/mint", json={"user": None, "expires_in": 60})
    payload = jwt_part(client_token.json()["access_token"], 1)
    assert payload["sub"] == CLIENT_ID
    assert "uid" not in payload
    assert payload["exp"] - payload["iat"] == 60


@pytest.mark.parametrize(
    "body",
    [
        {"scopes": "items:read"},
        {"scopes": ["nope"]},
        {"client_id": "0oaunknown"},
        {"user": "mallory@example.com"},
        {"expires_in": 0},
        {"expires_in": True},
        {"expires_in": "60"},
    ],
)
async def test_admin_mint_rejects_bad_requests(
    client: httpx.AsyncClient, body: dict[str, object]
) -> None:
    """Bad mint requests are a 400 naming the problem."""
    response = await client.post(f"{BASE}/dev/mint", json=body)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


@pytest.mark.parametrize("opaque", [False, True])
async def test_admin_mint_jkt_binds_the_token(
    client: httpx.AsyncClient, dev: DevIssuer, local: LocalIssuer, clock: Clock, opaque: bool
) -> None:
    """/dev/mint with a key's thumbprint as jkt answers token_type DPoP and a token bound to it."""
    key = DPoPKey(clock=clock)
    body = {"jkt": key.jkt, "scopes": ["items:read"], "opaque": opaque}
    response = await client.post(f"{BASE}/dev/mint", json=body)
    assert response.status_code == 200, response.text
    assert response.json()["token_type"] == "DPoP"
    token = response.json()["access_token"]
    if opaque:
        claims = dev.tokens.answer(token)
    else:
        async with local.verifier(clock=clock) as verifier:
            claims = dict((await verifier.verify(token, ["items:read"])).raw)
    check_binding(claims, key.jkt)


# The thumbprint of RFC 7638 section 3.1's example key.
_JKT = "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"


@pytest.mark.parametrize(
    "jkt",
    [
        "",
        _JKT[:42],
        _JKT + "A",
        _JKT + "=",  # padded: not the unpadded form RFC 7638 section 3 uses
        " " + _JKT[1:],
        _JKT[:42] + "B",  # spare bits set: a second spelling of the same digest
        "+" + _JKT[1:],  # the standard alphabet, not base64url
        "/" + _JKT[1:],
        "\u00e9" + _JKT[1:],
        _JKT[:42] + "\n",
        "a" * 64,  # a hex SHA-256, not base64url
        43,
        True,
        [_JKT],
        {"jkt": _JKT},
    ],
)
async def test_admin_mint_refuses_a_bad_jkt(client: httpx.AsyncClient, jkt: object) -> None:
    """A jkt that is not 43 canonical base64url characters is a 400 that says what it must be."""
    # The control: the example thumbprint itself is minted.
    assert (await client.post(f"{BASE}/dev/mint", json={"jkt": _JKT})).status_code == 200
    for opaque in (False, True):
        response = await client.post(f"{BASE}/dev/mint", json={"jkt": jkt, "opaque": opaque})
        assert response.status_code == 400, response.text
        assert response.json()["error"] == "invalid_request"
        description = response.json()["error_description"]
        assert "jkt must be a key's RFC 7638 SHA-256 thumbprint" in description


@pytest.mark.parametrize("member", ["expires_in", "scopes", "user", "client_id", "opaque", "jkt"])
@pytest.mark.parametrize("number", ["9" * 400, "1e400", "-1e400", "NaN", "-1", "1.5", "true"])
async def test_admin_mint_refuses_hostile_numbers(
    client: httpx.AsyncClient, dev: DevIssuer, member: str, number: str
) -> None:
    """A huge, overflowing, NaN, negative, fractional or boolean member is a 400, never a 500."""
    if member == "opaque" and number == "true":
        number = "1"  # true is a valid opaque flag, and a valid keep_old
    raw = f'{{"{member}": {number}}}'.encode()
    response = await client.post(
        f"{BASE}/dev/mint", content=raw, headers={"content-type": "application/json"}
    )
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "invalid_request"
    kid = dev.local.kid
    rotate = await client.post(
        f"{BASE}/dev/rotate",
        content=f'{{"keep_old": {number}}}'.encode(),
        headers={"content-type": "application/json"},
    )
    assert rotate.status_code == (200 if number == "true" else 400)
    assert (dev.local.kid == kid) is (number != "true")


@pytest.mark.parametrize("path", ["/dev/mint", "/dev/rotate"])
async def test_admin_needs_json(client: httpx.AsyncClient, path: str) -> None:
    """Admin endpoints refuse form posts, which any web page can send, and non-objects."""
    form = await client.post(BASE + path, data={"scopes": "x"})
    assert form.status_code == 415
    array = await client.post(BASE + path, json=[1])
    assert array.status_code == 400
    broken = await client.post(
        BASE + path, content=b"{", headers={"content-type": "application/json"}
    )
    assert broken.status_code == 400


@pytest.mark.parametrize("path", ["/dev/mint", "/dev/rotate"])
async def test_admin_is_loopback_only(dev: DevIssuer, path: str) -> None:
    """A client that is not on loopback gets 403 from the admin endpoints."""
    transport = httpx.ASGITransport(app=dev, client=("192.0.2.7", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:9400") as c:
        response = await c.post(BASE + path, json={})
    assert response.status_code == 403


async def test_admin_rotate(client: httpx.AsyncClient, local: LocalIssuer, clock: Clock) -> None:
    """POST /dev/rotate publishes a new key; keep_old=false retires the old one."""
    old = local.mint()
    first = await client.post(f"{BASE}/dev/rotate", json={})
    assert first.status_code == 200
    body = first.json()
    assert body["kid"] == local.kid
    assert len(body["kids"]) == 2
    keys = (await client.get(f"{BASE}/v1/keys")).json()
    assert [k["kid"] for k in keys["keys"]] == body["kids"]
    async with local.verifier(clock=clock) as verifier:
        assert (await verifier.verify(old)).sub == USER
    # Only the newest two keys stay published.
    await client.post(f"{BASE}/dev/rotate", json={"keep_old": True})
    assert len(local.keys) == 2
    retired = await client.post(f"{BASE}/dev/rotate", json={"keep_old": False})
    assert retired.json()["kids"] == [retired.json()["kid"]]
    async with local.verifier(clock=clock) as verifier:
        with pytest.raises(InvalidToken):
            await verifier.verify(old)
    bad = await client.post(f"{BASE}/dev/rotate", json={"keep_old": "no"})
    assert bad.status_code == 400
