"""Registration is no way around the /dev/mint guards, and a policy bounds what it gets."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from okta_bearer import ConfigurationError
from okta_bearer.dev_issuer import DEFAULT_SCOPES, DevClient, DevIssuer
from okta_bearer.testing import LocalIssuer

from .helpers import (
    AUTHORIZE,
    BASE,
    NATIVE,
    REGISTER,
    SPA,
    TOKEN,
    authorize_params,
    fragment,
    jwt_part,
    pkce_pair,
    query,
    sign_in,
)

pytestmark = pytest.mark.anyio

API = "http://127.0.0.1:9403/mcp"
MACHINE = {
    "grant_types": ["client_credentials"],
    "token_endpoint_auth_method": "client_secret_post",
}


async def _register(client: httpx.AsyncClient, **meta: Any) -> dict[str, Any]:
    response = await client.post(REGISTER, json=meta)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def _native(client: httpx.AsyncClient) -> str:
    """Register a public native client (loopback redirect); its client_id."""
    body = await _register(client, redirect_uris=[NATIVE], token_endpoint_auth_method="none")
    client_id: str = body["client_id"]
    return client_id


def _code_request(client_id: str, challenge: str, **extra: str) -> dict[str, str]:
    """A code + PKCE authorization request of ``client_id`` to NATIVE."""
    return authorize_params(
        client_id=client_id,
        redirect_uri=NATIVE,
        response_type="code",
        code_challenge=challenge,
        code_challenge_method="S256",
        **extra,
    )


async def _client_credentials(
    client: httpx.AsyncClient, creds: dict[str, Any], **form: str
) -> httpx.Response:
    data = {"client_id": creds["client_id"], "client_secret": creds["client_secret"]}
    return await client.post(TOKEN, data=data | {"grant_type": "client_credentials", **form})


@pytest.mark.parametrize(
    ("headers", "peer", "reason"),
    [
        pytest.param({"host": "evil.example:9400"}, "127.0.0.1", "Host", id="rebinding-host"),
        pytest.param({"host": "127.0.0.1.nip.example"}, "127.0.0.1", "Host", id="lookalike-host"),
        pytest.param({"origin": "http://evil.example"}, "127.0.0.1", "Origin", id="foreign-origin"),
        pytest.param({"origin": SPA.rstrip("/")}, "127.0.0.1", "Origin", id="client-origin"),
        pytest.param({"origin": "null"}, "127.0.0.1", "Origin", id="null-origin"),
        pytest.param({}, "192.0.2.7", "Loopback", id="remote-peer"),
    ],
)
async def test_registration_refuses_what_dev_mint_refuses(
    dev: DevIssuer, headers: dict[str, str], peer: str, reason: str
) -> None:
    """A DNS-rebinding or cross-origin page, or a remote peer, gets 403 and no client."""
    known = set(dev.clients)
    transport = httpx.ASGITransport(app=dev, client=(peer, 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:9400") as c:
        response = await c.post(REGISTER, json=MACHINE, headers=headers)
        mint = await c.post(f"{BASE}/dev/mint", json={}, headers=headers)
    assert (response.status_code, mint.status_code) == (403, 403)
    assert response.json()["error"] == "access_denied"
    assert reason in response.json()["error_description"]
    assert "client_secret" not in response.text
    assert set(dev.clients) == known


async def test_registration_from_a_loopback_tool_is_served(client: httpx.AsyncClient) -> None:
    """curl or a native MCP client (loopback peer and Host, no Origin) still registers."""
    for host in ("127.0.0.1:9400", "localhost:9400", "[::1]:9400"):
        response = await client.post(REGISTER, json=MACHINE, headers={"host": host})
        assert response.status_code == 201, response.text


async def test_by_default_a_registered_client_gets_no_custom_scope(
    client: httpx.AsyncClient,
) -> None:
    """With no registration_scopes and no default_scopes, client_credentials is invalid_scope."""
    creds = await _register(client, **MACHINE)
    for scope in DEFAULT_SCOPES:
        response = await _client_credentials(client, creds, scope=scope)
        assert (response.status_code, response.json()["error"]) == (400, "invalid_scope")
        assert "access_token" not in response.text


async def test_by_default_a_registered_client_names_no_audience(local: LocalIssuer) -> None:
    """Any resource is invalid_target by default; the token carries the issuer's own audience."""
    dev = DevIssuer(local, default_scopes=["items:read"])
    transport = httpx.ASGITransport(app=dev, client=("127.0.0.1", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:9400") as c:
        creds = await _register(c, **MACHINE)
        for resource in (API, "https://bank.example/api"):
            refused = await _client_credentials(c, creds, scope="items:read", resource=resource)
            assert (refused.status_code, refused.json()["error"]) == (400, "invalid_target")
        ok = await _client_credentials(c, creds, scope="items:read")
    assert ok.status_code == 200, ok.text
    assert jwt_part(ok.json()["access_token"], 1)["aud"] == local.audience


async def test_operator_policy_bounds_client_credentials(local: LocalIssuer) -> None:
    """registration_scopes and registration_audiences are exactly what such a client can get."""
    dev = DevIssuer(local, registration_scopes=["items:read"], registration_audiences=[API])
    transport = httpx.ASGITransport(app=dev, client=("127.0.0.1", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:9400") as c:
        creds = await _register(c, **MACHINE)
        ok = await _client_credentials(c, creds, scope="items:read", resource=API)
        wider = await _client_credentials(c, creds, scope="items:read items:write")
        other = await _client_credentials(c, creds, scope="items:read", resource=API + "/x")
    assert ok.status_code == 200, ok.text
    assert jwt_part(ok.json()["access_token"], 1)["aud"] == API
    assert (wider.status_code, wider.json()["error"]) == (400, "invalid_scope")
    assert (other.status_code, other.json()["error"]) == (400, "invalid_target")


async def test_configured_clients_are_not_bound_by_the_registration_policy(
    local: LocalIssuer,
) -> None:
    """A confidential client the operator configured keeps every offered scope and audience."""
    dev = DevIssuer(local, clients=[DevClient("0oaops", (), "ops-secret")])
    transport = httpx.ASGITransport(app=dev, client=("127.0.0.1", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:9400") as c:
        creds = {"client_id": "0oaops", "client_secret": "ops-secret"}
        response = await _client_credentials(c, creds, scope="items:write", resource=API)
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    ("extra", "error"),
    [
        pytest.param({"scope": "openid items:write"}, "invalid_scope", id="scope"),
        pytest.param({"scope": "openid", "resource": API}, "invalid_target", id="resource"),
    ],
)
async def test_authorization_request_is_bounded_too(
    client: httpx.AsyncClient, extra: dict[str, str], error: str
) -> None:
    """A registered client's /v1/authorize beyond the policy is refused to its redirect URI."""
    client_id = await _native(client)
    _, challenge = pkce_pair()
    response = await client.get(AUTHORIZE, params=_code_request(client_id, challenge, **extra))
    assert response.status_code == 302
    assert query(response)["error"] == error
    assert "code" not in query(response)


async def test_resource_named_only_at_the_token_endpoint_is_bounded(
    client: httpx.AsyncClient,
) -> None:
    """A registered client cannot widen the audience by naming a resource at /v1/token."""
    client_id = await _native(client)
    verifier, challenge = pkce_pair()
    params = _code_request(client_id, challenge, scope="openid")
    signed_in = await sign_in(client, await client.get(AUTHORIZE, params=params))
    code = query(signed_in)["code"]
    data = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": NATIVE,
        "client_id": client_id,
        "code_verifier": verifier,
        "resource": API,
    }
    response = await client.post(TOKEN, data=data)
    assert (response.status_code, response.json()["error"]) == (400, "invalid_target")


async def test_user_scopes_stay_available_to_registered_clients(
    client: httpx.AsyncClient,
) -> None:
    """openid, profile and email describe the signing-in user, so the policy never blocks them."""
    body = await _register(
        client, redirect_uris=[NATIVE], token_endpoint_auth_method="none", grant_types=["implicit"]
    )
    client_id = body["client_id"]
    scope = "openid profile email"
    params = authorize_params(client_id=client_id, redirect_uri=NATIVE, scope=scope)
    response = await sign_in(client, await client.get(AUTHORIZE, params=params))
    assert "access_token" in fragment(response)


@pytest.mark.parametrize(
    ("options", "name"),
    [
        ({"registration_scopes": ["admin:all"]}, "registration_scopes"),
        ({"registration_audiences": ["not-a-uri"]}, "registration_audiences"),
        ({"registration_audiences": ["https://api.example/#frag"]}, "registration_audiences"),
        ({"registration_audiences": [42]}, "registration_audiences"),
    ],
)
def test_policy_mistakes_are_configuration_errors(
    local: LocalIssuer, options: dict[str, Any], name: str
) -> None:
    """A scope the server does not offer or an audience that is no absolute URI names the option."""
    with pytest.raises(ConfigurationError, match=name):
        DevIssuer(local, **options)


async def test_a_registered_client_uses_only_its_grants(client: httpx.AsyncClient) -> None:
    """A code-only client gets no implicit tokens, and a code-only secret no client_credentials."""
    body = await _register(client, redirect_uris=[NATIVE])  # authorization_code only
    implicit = await client.get(
        AUTHORIZE, params=authorize_params(client_id=body["client_id"], redirect_uri=NATIVE)
    )
    assert implicit.status_code == 302
    assert fragment(implicit)["error"] == "unauthorized_client"
    assert "access_token" not in fragment(implicit)
    machine = await _client_credentials(client, body, scope="openid")
    assert (machine.status_code, machine.json()["error"]) == (400, "unauthorized_client")


@pytest.mark.parametrize(
    "member", ["redirect_uris", "grant_types", "token_endpoint_auth_method", "client_name"]
)
@pytest.mark.parametrize("number", ["9" * 400, "9" * 5000, "1e400", "NaN", "-1", "true"])
async def test_hostile_numbers_in_registration_metadata_are_4xx(
    client: httpx.AsyncClient, dev: DevIssuer, member: str, number: str
) -> None:
    """A number where metadata wants strings is an RFC 7591 error (or ignored), never a 500."""
    known = set(dev.clients)
    raw = f'{{"redirect_uris": ["{NATIVE}"], "{member}": {number}}}'
    if member == "redirect_uris":
        raw = f'{{"redirect_uris": [{number}]}}'
    response = await client.post(
        REGISTER, content=raw.encode(), headers={"content-type": "application/json"}
    )
    if member == "client_name" and len(number) < 5000:
        assert response.status_code == 201  # a name that is no string is left out
        assert "client_name" not in response.json()
    else:
        assert response.status_code == 400, response.text
        assert response.json()["error"] in ("invalid_client_metadata", "invalid_redirect_uri")
        assert set(dev.clients) == known
