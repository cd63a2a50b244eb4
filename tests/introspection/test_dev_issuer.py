"""The dev issuer's /v1/introspect and /v1/revoke: in-process, then over a real uvicorn."""

from __future__ import annotations

import base64
import time
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from okta_bearer import IntrospectionVerifier, InvalidToken, TokenShapeVerifier, TokenVerifier
from okta_bearer.dev_issuer import DevClient, DevIssuer
from okta_bearer.testing import DPoPKey, LocalIssuer

from ..helpers import Clock
from ..servers import loopback_socket, origin_of, serve

pytestmark = pytest.mark.anyio

RS_ID, RS_SECRET = "0oaresourceserver", "rs-secret-for-tests"
SPA_ID = "0oaspa"
BASE = "http://127.0.0.1:9400/oauth2/default"


def _dev(issuer: str = BASE) -> DevIssuer:
    return DevIssuer(
        LocalIssuer(issuer),
        clients=[DevClient(SPA_ID, ("http://127.0.0.1:9402/",)), DevClient(RS_ID, (), RS_SECRET)],
    )


def _basic(client_id: str, secret: str) -> dict[str, str]:
    return {"authorization": "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()}


RS = _basic(RS_ID, RS_SECRET)


@pytest.fixture
async def client() -> AsyncIterator[tuple[DevIssuer, httpx.AsyncClient]]:
    """A dev issuer with a SPA and a confidential resource-server client, in-process."""
    dev = _dev()
    transport = httpx.ASGITransport(app=dev, client=("127.0.0.1", 50000))
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as http:
        yield dev, http


async def _mint(http: httpx.AsyncClient, **body: object) -> str:
    response = await http.post("/dev/mint", json={"client_id": SPA_ID, **body})
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


async def test_metadata_names_the_endpoints(client: tuple[DevIssuer, httpx.AsyncClient]) -> None:
    """Discovery lists /v1/introspect and /v1/revoke with their client auth methods."""
    _, http = client
    meta = (await http.get("/.well-known/oauth-authorization-server")).json()
    assert meta["introspection_endpoint"] == f"{BASE}/v1/introspect"
    assert meta["revocation_endpoint"] == f"{BASE}/v1/revoke"
    assert "client_secret_basic" in meta["introspection_endpoint_auth_methods_supported"]


async def test_opaque_token_introspects_okta_shaped(
    client: tuple[DevIssuer, httpx.AsyncClient],
) -> None:
    """/dev/mint opaque gives a non-JWT token whose answer has Okta's fields."""
    _, http = client
    token = await _mint(http, opaque=True, scopes=["items:read"])
    assert token.count(".") == 0
    answer = (
        await http.post("/v1/introspect", data={"token": token}, headers=_basic(RS_ID, RS_SECRET))
    ).json()
    assert answer["active"] is True
    assert answer["scope"] == "items:read"
    assert answer["client_id"] == SPA_ID
    assert answer["username"] == answer["sub"] == "alice@example.com"
    assert answer["token_type"] == "Bearer"
    assert answer["iss"] == BASE
    assert {"exp", "iat", "aud", "jti"} <= answer.keys()


async def test_bound_opaque_token_introspects_as_dpop(
    client: tuple[DevIssuer, httpx.AsyncClient],
) -> None:
    """An opaque /dev/mint token with jkt introspects as DPoP with its cnf.jkt (RFC 9449 6.2)."""
    _, http = client
    key = DPoPKey()
    token = await _mint(http, opaque=True, jkt=key.jkt)
    answer = (await http.post("/v1/introspect", data={"token": token}, headers=RS)).json()
    assert answer["active"] is True
    assert answer["token_type"] == "DPoP"
    assert answer["cnf"] == {"jkt": key.jkt}


@pytest.mark.parametrize(
    ("headers", "form"),
    [
        ({}, {}),
        (_basic(RS_ID, "wrong"), {}),
        ({}, {"client_id": RS_ID}),  # a confidential client must send its secret
        ({}, {"client_id": "0oanobody"}),
        ({}, {"client_id": SPA_ID, "client_secret": "anything"}),
    ],
)
async def test_bad_client_authentication_is_401(
    client: tuple[DevIssuer, httpx.AsyncClient], headers: dict[str, str], form: dict[str, str]
) -> None:
    """Missing or wrong client credentials are 401 invalid_client."""
    _, http = client
    response = await http.post("/v1/introspect", data={"token": "t", **form}, headers=headers)
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


async def test_confidential_client_by_basic_or_post_is_accepted(
    client: tuple[DevIssuer, httpx.AsyncClient],
) -> None:
    """A confidential client introspects with HTTP Basic or with its secret in the form."""
    _, http = client
    token = await _mint(http)
    for form, headers in (
        ({}, _basic(RS_ID, RS_SECRET)),
        ({"client_id": RS_ID, "client_secret": RS_SECRET}, {}),
    ):
        response = await http.post("/v1/introspect", data={"token": token, **form}, headers=headers)
        assert response.json()["active"] is True


async def test_revoked_jwt_and_opaque_tokens_become_inactive(
    client: tuple[DevIssuer, httpx.AsyncClient],
) -> None:
    """/v1/revoke by the token's client makes introspection answer active: false."""
    _, http = client
    for token in (await _mint(http), await _mint(http, opaque=True)):
        revoked = await http.post("/v1/revoke", data={"token": token, "client_id": SPA_ID})
        assert revoked.status_code == 200
        answer = await http.post("/v1/introspect", data={"token": token}, headers=RS)
        assert answer.json() == {"active": False}


async def test_only_the_tokens_client_may_revoke(
    client: tuple[DevIssuer, httpx.AsyncClient],
) -> None:
    """Another client's revocation is refused and the token stays active."""
    _, http = client
    token = await _mint(http)
    refused = await http.post("/v1/revoke", data={"token": token}, headers=_basic(RS_ID, RS_SECRET))
    assert refused.status_code == 400
    answer = await http.post("/v1/introspect", data={"token": token}, headers=RS)
    assert answer.json()["active"] is True


async def test_id_tokens_and_garbage_are_inactive(
    client: tuple[DevIssuer, httpx.AsyncClient],
) -> None:
    """An ID token, a foreign string and a missing token are not active access tokens."""
    dev, http = client
    for token in (dev.local.mint_id_token(), "garbage"):
        answer = await http.post("/v1/introspect", data={"token": token}, headers=RS)
        assert answer.json() == {"active": False}
    missing = await http.post("/v1/introspect", data={"x": "1"}, headers=RS)
    assert missing.status_code == 400


async def test_mint_refuses_a_non_boolean_opaque(
    client: tuple[DevIssuer, httpx.AsyncClient],
) -> None:
    """/dev/mint checks the opaque flag's type."""
    _, http = client
    response = await http.post("/dev/mint", json={"opaque": "yes"})
    assert response.status_code == 400


@pytest.fixture(scope="module")
def served() -> Iterator[DevIssuer]:
    """The dev issuer on a free loopback port under a real uvicorn."""
    sock = loopback_socket()
    dev = _dev(f"{origin_of(sock)}/oauth2/default")
    with serve(dev, sock=sock):
        yield dev


async def _mint_over_http(dev: DevIssuer, **body: object) -> str:
    async with httpx.AsyncClient(trust_env=False) as http:
        response = await http.post(f"{dev.issuer}/dev/mint", json={"client_id": SPA_ID, **body})
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


async def test_opaque_and_jwt_tokens_over_real_http(served: DevIssuer) -> None:
    """Over uvicorn: JWTs verify locally, opaque tokens by discovered introspection."""
    dev = served
    jwt_token = await _mint_over_http(dev)
    opaque_token = await _mint_over_http(dev, opaque=True, scopes=["items:read"])
    async with (
        TokenVerifier(dev.issuer, dev.local.audience) as local,
        IntrospectionVerifier(
            dev.issuer, dev.local.audience, client_id=RS_ID, client_secret=RS_SECRET
        ) as remote,
    ):
        verifier = TokenShapeVerifier(local, remote)
        assert (await verifier.verify(jwt_token)).client_id == SPA_ID
        claims = await verifier.verify(opaque_token, ["items:read"])
        assert claims.client_id == SPA_ID
        assert remote.introspection_endpoint == f"{dev.issuer}/v1/introspect"
        assert remote.fetch_counts["introspection"] == 1


async def test_revocation_is_seen_within_the_cache_ttl_over_real_http(served: DevIssuer) -> None:
    """Revoked through /v1/revoke, a token is refused once the cache TTL has passed."""
    dev = served
    token = await _mint_over_http(dev, opaque=True)
    clock = Clock(time.time())
    async with IntrospectionVerifier(
        dev.issuer,
        dev.local.audience,
        client_id=RS_ID,
        client_secret=RS_SECRET,
        cache_ttl=10,
        clock=clock,
    ) as verifier:
        await verifier.verify(token)
        async with httpx.AsyncClient(trust_env=False) as http:
            revoked = await http.post(
                f"{dev.issuer}/v1/revoke", data={"token": token, "client_id": SPA_ID}
            )
        assert revoked.status_code == 200
        await verifier.verify(token)  # still within the cache TTL
        clock.advance(11)
        with pytest.raises(InvalidToken) as caught:
            await verifier.verify(token)
    assert caught.value.reason == "inactive"
