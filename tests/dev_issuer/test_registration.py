"""What an MCP client needs from the dev issuer: RFC 8414, RFC 7591, RFC 8707, client auth."""

from __future__ import annotations

import base64
from typing import Any

import httpx
import pytest

from okta_bearer.dev_issuer import DEFAULT_SCOPES, DevClient, DevIssuer, _register
from okta_bearer.testing import LocalIssuer

from .helpers import (
    BASE,
    CLIENT_ID,
    DOCS,
    NATIVE,
    REGISTER,
    SPA,
    TOKEN,
    authorize_params,
    jwt_part,
    pkce_pair,
    query,
    sign_in,
)

pytestmark = pytest.mark.anyio

ISSUER = f"http://127.0.0.1:9400{BASE}"
RESOURCE = "http://127.0.0.1:9403/mcp"


@pytest.fixture
def dev(local: LocalIssuer) -> DevIssuer:
    """The demo client; registered clients may have the custom scopes and RESOURCE."""
    return DevIssuer(
        local,
        clients=[DevClient(CLIENT_ID, (SPA, DOCS))],
        registration_scopes=DEFAULT_SCOPES,
        registration_audiences=[RESOURCE],
    )


async def register(client: httpx.AsyncClient, **meta: Any) -> httpx.Response:
    return await client.post(REGISTER, json=meta)


async def code_for(
    client: httpx.AsyncClient, client_id: str, redirect_uri: str, **extra: str
) -> tuple[str, str]:
    """A code + PKCE authorization, signing in when needed; (code, code_verifier)."""
    verifier, challenge = pkce_pair()
    params = authorize_params(
        client_id=client_id,
        redirect_uri=redirect_uri,
        response_type="code",
        code_challenge=challenge,
        code_challenge_method="S256",
        **extra,
    )
    page = await client.get(f"{BASE}/v1/authorize", params=params)
    redirect = page if page.status_code == 302 else await sign_in(client, page)
    assert redirect.status_code in (302, 303), redirect.text
    return query(redirect)["code"], verifier


async def test_metadata_lists_what_the_issuer_supports(client: httpx.AsyncClient) -> None:
    """RFC 8414: registration endpoint, grants, client auth methods and acr values are listed."""
    meta = (await client.get(f"{BASE}/.well-known/oauth-authorization-server")).json()
    assert meta["registration_endpoint"] == f"{ISSUER}/v1/register"
    assert set(meta["grant_types_supported"]) == {
        "authorization_code",
        "implicit",
        "client_credentials",
    }
    assert set(meta["token_endpoint_auth_methods_supported"]) == {
        "none",
        "client_secret_basic",
        "client_secret_post",
    }
    assert "urn:okta:loa:2fa:any" in meta["acr_values_supported"]
    assert meta["code_challenge_methods_supported"] == ["S256"]


async def test_path_inserted_metadata_url_is_served(client: httpx.AsyncClient) -> None:
    """RFC 8414 3.1: /.well-known/oauth-authorization-server/oauth2/default answers too."""
    inserted = await client.get(f"/.well-known/oauth-authorization-server{BASE}")
    appended = await client.get(f"{BASE}/.well-known/oauth-authorization-server")
    assert inserted.status_code == 200
    assert inserted.json() == appended.json()
    assert inserted.json()["issuer"] == ISSUER


async def test_public_client_registers_and_signs_in(client: httpx.AsyncClient) -> None:
    """A native public client registers without a secret and completes code + PKCE."""
    response = await register(
        client, redirect_uris=[NATIVE], token_endpoint_auth_method="none", client_name="n"
    )
    assert response.status_code == 201
    body = response.json()
    assert "client_secret" not in body
    assert body["token_endpoint_auth_method"] == "none"
    assert body["redirect_uris"] == [NATIVE]
    code, verifier = await code_for(client, body["client_id"], NATIVE)
    data = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": NATIVE,
        "client_id": body["client_id"],
        "code_verifier": verifier,
    }
    token = await client.post(TOKEN, data=data)
    assert token.status_code == 200, token.text


async def test_default_registration_is_confidential_with_basic_auth(
    client: httpx.AsyncClient,
) -> None:
    """RFC 7591 default method client_secret_basic: a secret is issued and required at /token."""
    body = (await register(client, redirect_uris=[NATIVE])).json()
    assert body["token_endpoint_auth_method"] == "client_secret_basic"
    assert body["client_secret_expires_at"] == 0
    code, verifier = await code_for(client, body["client_id"], NATIVE)
    data = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": NATIVE,
        "code_verifier": verifier,
    }
    unauthenticated = await client.post(TOKEN, data=data | {"client_id": body["client_id"]})
    assert unauthenticated.status_code == 401
    assert unauthenticated.json()["error"] == "invalid_client"
    basic = base64.b64encode(f"{body['client_id']}:{body['client_secret']}".encode()).decode()
    code, verifier = await code_for(client, body["client_id"], NATIVE)
    data |= {"code": code, "code_verifier": verifier}
    ok = await client.post(TOKEN, data=data, headers={"authorization": f"Basic {basic}"})
    assert ok.status_code == 200, ok.text


async def test_wrong_basic_secret_is_401_with_a_basic_challenge(client: httpx.AsyncClient) -> None:
    """A failed Basic authentication is 401 invalid_client with WWW-Authenticate: Basic."""
    body = (await register(client, grant_types=["client_credentials"])).json()
    basic = base64.b64encode(f"{body['client_id']}:wrong".encode()).decode()
    response = await client.post(
        TOKEN,
        data={"grant_type": "client_credentials", "scope": "items:read"},
        headers={"authorization": f"Basic {basic}"},
    )
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    assert response.headers["www-authenticate"].startswith("Basic ")


@pytest.mark.parametrize(
    ("meta", "error"),
    [
        ({"redirect_uris": ["http://evil.example/cb"]}, "invalid_redirect_uri"),
        ({"redirect_uris": ["https://app.example/cb#x"]}, "invalid_redirect_uri"),
        ({"redirect_uris": ["myapp:/cb"]}, "invalid_redirect_uri"),
        ({"redirect_uris": "https://app.example/cb"}, "invalid_redirect_uri"),
        ({}, "invalid_redirect_uri"),
        (
            {"redirect_uris": [NATIVE], "token_endpoint_auth_method": "private_key_jwt"},
            "invalid_client_metadata",
        ),
        ({"redirect_uris": [NATIVE], "grant_types": ["password"]}, "invalid_client_metadata"),
        (
            {"redirect_uris": [NATIVE], "grant_types": "authorization_code"},
            "invalid_client_metadata",
        ),
    ],
)
async def test_bad_registrations_are_refused(
    client: httpx.AsyncClient, meta: dict[str, Any], error: str
) -> None:
    """Unsafe redirect URIs and unsupported metadata are RFC 7591 errors (400)."""
    response = await register(client, **meta)
    assert (response.status_code, response.json()["error"]) == (400, error)


async def test_registration_needs_a_json_object(client: httpx.AsyncClient) -> None:
    """Form bodies are 415; JSON that is not an object is 400."""
    form = await client.post(REGISTER, data={"redirect_uris": NATIVE})
    array = await client.post(REGISTER, json=[NATIVE])
    assert (form.status_code, array.status_code) == (415, 400)


async def test_registrations_are_bounded(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past the bound the oldest dynamic registration is forgotten; configured clients stay."""
    monkeypatch.setattr(_register, "MAX_REGISTERED", 2)
    ids = [(await register(client, grant_types=["client_credentials"])).json() for _ in range(3)]
    statuses = []
    for body in ids:
        response = await client.post(
            TOKEN,
            data={
                "grant_type": "client_credentials",
                "client_id": body["client_id"],
                "client_secret": body["client_secret"],
                "scope": "items:read",
            },
        )
        statuses.append(response.status_code)
    assert statuses == [401, 200, 200]
    page = await client.get(f"{BASE}/v1/authorize", params=authorize_params())
    assert page.status_code == 200  # the configured client still works


async def confidential(client: httpx.AsyncClient) -> dict[str, str]:
    body: dict[str, str] = (
        await register(
            client,
            grant_types=["client_credentials"],
            token_endpoint_auth_method="client_secret_post",
        )
    ).json()
    return {"client_id": body["client_id"], "client_secret": body["client_secret"]}


async def test_client_credentials_token_is_the_clients_own(client: httpx.AsyncClient) -> None:
    """sub is the client id, no user claims, aud the requested resource."""
    creds = await confidential(client)
    response = await client.post(
        TOKEN,
        data=creds
        | {"grant_type": "client_credentials", "scope": "items:read", "resource": RESOURCE},
    )
    assert response.status_code == 200, response.text
    claims = jwt_part(response.json()["access_token"], 1)
    assert (claims["sub"], claims["cid"], claims["aud"]) == (creds["client_id"],) * 2 + (RESOURCE,)
    assert "uid" not in claims
    assert "auth_time" not in claims
    assert "id_token" not in response.json()


@pytest.mark.parametrize(
    ("scope", "error"),
    [("openid", "invalid_scope"), ("items:read unknown", "invalid_scope")],
)
async def test_client_credentials_scope_rules(
    client: httpx.AsyncClient, scope: str, error: str
) -> None:
    """User scopes and unknown scopes are refused for a client acting for itself."""
    creds = await confidential(client)
    response = await client.post(
        TOKEN, data=creds | {"grant_type": "client_credentials", "scope": scope}
    )
    assert (response.status_code, response.json()["error"]) == (400, error)


async def test_public_client_cannot_use_client_credentials(client: httpx.AsyncClient) -> None:
    """The configured SPA client has no secret: unauthorized_client."""
    response = await client.post(
        TOKEN,
        data={"grant_type": "client_credentials", "client_id": CLIENT_ID, "scope": "items:read"},
    )
    assert response.json()["error"] == "unauthorized_client"


async def test_resource_on_authorize_becomes_aud(client: httpx.AsyncClient) -> None:
    """RFC 8707: resource on /v1/authorize sets the aud; the token request may repeat it."""
    code, verifier = await code_for(client, CLIENT_ID, SPA, resource=RESOURCE)
    data = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": SPA,
        "client_id": CLIENT_ID,
        "code_verifier": verifier,
        "resource": RESOURCE,
    }
    response = await client.post(TOKEN, data=data)
    assert jwt_part(response.json()["access_token"], 1)["aud"] == RESOURCE


async def test_token_request_cannot_widen_the_resource(client: httpx.AsyncClient) -> None:
    """A token request naming another resource than the authorized one is invalid_target."""
    code, verifier = await code_for(client, CLIENT_ID, SPA, resource=RESOURCE)
    data = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": SPA,
        "client_id": CLIENT_ID,
        "code_verifier": verifier,
        "resource": "http://127.0.0.1:9403/other",
    }
    response = await client.post(TOKEN, data=data)
    assert (response.status_code, response.json()["error"]) == (400, "invalid_target")


async def test_resource_at_token_time_only(client: httpx.AsyncClient) -> None:
    """Without a resource at /authorize, one named at /token becomes the aud."""
    code, verifier = await code_for(client, CLIENT_ID, SPA)
    data = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": SPA,
        "client_id": CLIENT_ID,
        "code_verifier": verifier,
        "resource": RESOURCE,
    }
    response = await client.post(TOKEN, data=data)
    assert jwt_part(response.json()["access_token"], 1)["aud"] == RESOURCE
