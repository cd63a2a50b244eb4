"""Who may introspect, what a secret proves, and DPoP-bound tokens without a browser."""

from __future__ import annotations

import base64
from typing import Any

import httpx
import pytest

from okta_bearer import ConfigurationError
from okta_bearer._dpop.proof import check_binding
from okta_bearer._testing.dpop import DPoPKey
from okta_bearer.dev_issuer import DevClient, DevIssuer, DevUser
from okta_bearer.testing import IntrospectionServer, LocalIssuer

from .conftest import Clock
from .helpers import BASE, CLIENT_ID, SPA, TOKEN, authorize_params, sign_in

pytestmark = pytest.mark.anyio

INTROSPECT = f"{BASE}/v1/introspect"
RS_ID, RS_SECRET = "0oaresourceserver", "rs-secret"


@pytest.fixture
def dev(local: LocalIssuer) -> DevIssuer:
    """The demo SPA (public) and a confidential resource-server client."""
    return DevIssuer(
        local,
        clients=[DevClient(CLIENT_ID, (SPA,)), DevClient(RS_ID, (), RS_SECRET)],
        registration_scopes=["items:read"],
    )


def _basic(client_id: str, secret: str) -> dict[str, str]:
    value = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    return {"authorization": f"Basic {value}"}


async def _mint(client: httpx.AsyncClient) -> str:
    minted = await client.post(f"{BASE}/dev/mint", json={"client_id": CLIENT_ID})
    token: str = minted.json()["access_token"]
    return token


async def _register(client: httpx.AsyncClient, **meta: Any) -> dict[str, Any]:
    response = await client.post(f"{BASE}/v1/register", json=meta)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_public_clients_cannot_introspect(client: httpx.AsyncClient) -> None:
    """A public client, configured or registered, by client_id alone or an empty secret: 401."""
    token = await _mint(client)
    public = await _register(client, redirect_uris=[SPA], token_endpoint_auth_method="none")
    attempts: list[tuple[dict[str, str], dict[str, str]]] = []
    for client_id in (CLIENT_ID, public["client_id"]):
        attempts += [
            ({"client_id": client_id}, {}),
            ({"client_id": client_id, "client_secret": ""}, {}),
            ({}, _basic(client_id, "")),
        ]
    for form, headers in attempts:
        response = await client.post(INTROSPECT, data={"token": token, **form}, headers=headers)
        assert response.status_code == 401, (form, headers)
        assert response.json()["error"] == "invalid_client"
        assert "active" not in response.text


async def test_confidential_clients_introspect(client: httpx.AsyncClient) -> None:
    """The control: a configured or registered confidential client gets the answer."""
    token = await _mint(client)
    machine = await _register(client, grant_types=["client_credentials"])
    for client_id, secret in ((RS_ID, RS_SECRET), (machine["client_id"], machine["client_secret"])):
        response = await client.post(
            INTROSPECT, data={"token": token}, headers=_basic(client_id, secret)
        )
        assert response.json()["active"] is True


async def test_metadata_offers_no_public_introspection(client: httpx.AsyncClient) -> None:
    """Discovery lists no "none" method for introspection; revocation keeps it (RFC 7009)."""
    meta = (await client.get(f"{BASE}/.well-known/oauth-authorization-server")).json()
    assert "none" not in meta["introspection_endpoint_auth_methods_supported"]
    assert "none" in meta["revocation_endpoint_auth_methods_supported"]


def test_an_empty_client_secret_is_a_configuration_error() -> None:
    """DevClient refuses an empty secret, naming the option (None makes a public client)."""
    with pytest.raises(ConfigurationError, match="client_secret"):
        DevClient("0oaempty", (), "")


async def test_an_empty_password_never_signs_in(local: LocalIssuer) -> None:
    """A user configured with an empty password cannot sign in with an empty password."""
    dev = DevIssuer(
        local, clients=[DevClient(CLIENT_ID, (SPA,))], users=[DevUser("nobody@example.com", "")]
    )
    transport = httpx.ASGITransport(app=dev, client=("127.0.0.1", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:9400") as c:
        page = await c.get(f"{BASE}/v1/authorize", params=authorize_params())
        response = await sign_in(c, page, username="nobody@example.com", password="")
    assert response.status_code == 401
    assert "location" not in response.headers


async def test_testing_introspection_server_refuses_an_empty_secret(local: LocalIssuer) -> None:
    """IntrospectionServer configured with an empty secret authenticates nobody."""
    server = IntrospectionServer(local, client_secret="")
    token = server.mint_opaque()
    async with httpx.AsyncClient(transport=httpx.MockTransport(server.handler)) as http:
        for auth in (
            {"headers": _basic(server.client_id, "")},
            {"data": {"client_id": server.client_id, "client_secret": ""}},
        ):
            data = {"token": token, **auth.get("data", {})}
            response = await http.post(
                server.introspection_endpoint, data=data, headers=auth.get("headers", {})
            )
            assert response.status_code == 401


async def _bound_token(
    client: httpx.AsyncClient, local: LocalIssuer, key: DPoPKey, **form: str
) -> httpx.Response:
    proof = key.proof("POST", f"{local.issuer}/v1/token")
    data = {"grant_type": "client_credentials", "client_id": RS_ID, "client_secret": RS_SECRET}
    return await client.post(TOKEN, data=data | form, headers={"DPoP": proof})


async def test_client_credentials_with_a_proof_gets_a_bound_token(
    client: httpx.AsyncClient, local: LocalIssuer, clock: Clock
) -> None:
    """RFC 9449 section 5: token_type DPoP and cnf.jkt of the proof's key, no browser needed."""
    key = DPoPKey(clock=clock)
    response = await _bound_token(client, local, key, scope="items:read")
    assert response.status_code == 200, response.text
    assert response.json()["token_type"] == "DPoP"
    async with local.verifier(clock=clock) as verifier:
        claims = await verifier.verify(response.json()["access_token"])
    check_binding(claims.raw, key.jkt)


@pytest.mark.parametrize(("method", "url"), [("GET", "/v1/token"), ("POST", "/v1/userinfo")])
async def test_client_credentials_with_a_bad_proof_is_400(
    client: httpx.AsyncClient, local: LocalIssuer, clock: Clock, method: str, url: str
) -> None:
    """A proof made for another request is invalid_dpop_proof and no token is issued."""
    proof = DPoPKey(clock=clock).proof(method, f"{local.issuer}{url}")
    data = {
        "grant_type": "client_credentials",
        "client_id": RS_ID,
        "client_secret": RS_SECRET,
        "scope": "items:read",
    }
    response = await client.post(TOKEN, data=data, headers={"DPoP": proof})
    assert (response.status_code, response.json()["error"]) == (400, "invalid_dpop_proof")
    assert "access_token" not in response.text


async def test_a_bound_token_introspects_as_dpop(
    client: httpx.AsyncClient, local: LocalIssuer, clock: Clock
) -> None:
    """/v1/introspect answers token_type DPoP with the cnf.jkt; an unbound one stays Bearer."""
    key = DPoPKey(clock=clock)
    bound = (await _bound_token(client, local, key, scope="items:read")).json()["access_token"]
    answer = (
        await client.post(INTROSPECT, data={"token": bound}, headers=_basic(RS_ID, RS_SECRET))
    ).json()
    assert (answer["active"], answer["token_type"]) == (True, "DPoP")
    assert answer["cnf"] == {"jkt": key.jkt}
    plain = await _mint(client)
    answer = (
        await client.post(INTROSPECT, data={"token": plain}, headers=_basic(RS_ID, RS_SECRET))
    ).json()
    assert answer["token_type"] == "Bearer"
    assert "cnf" not in answer
