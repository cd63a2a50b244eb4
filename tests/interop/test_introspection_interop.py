"""Introspection (RFC 7662) and revocation (RFC 7009) against panva's oidc-provider.

The provider issues opaque client_credentials tokens for the resource
``urn:okta-bearer:opaque`` and introspects them for three resource-server
clients, one per client authentication method (see ``provider/server.mjs``).
Everything runs over real loopback HTTP; the endpoint is discovered from the
provider's ``openid-configuration``.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from jwt.algorithms import RSAAlgorithm

from okta_bearer import (
    IntrospectionUnavailable,
    IntrospectionVerifier,
    InvalidToken,
    MultiIssuerVerifier,
    TokenProfile,
    TokenVerifier,
)
from okta_bearer.dev_issuer import DevClient, DevIssuer
from okta_bearer.testing import LocalIssuer

from ..helpers import Clock
from ..servers import loopback_socket, origin_of, serve
from .conftest import CLIENT_ID, CLIENT_SECRET, OidcProvider

pytestmark = [pytest.mark.interop, pytest.mark.anyio]

OPAQUE = "urn:okta-bearer:opaque"  # aud api://interop-opaque, opaque token
RS256 = "urn:okta-bearer:rs256"  # aud api://interop, JWT
OTHER = "urn:okta-bearer:other"  # aud api://someone-else, JWT
AUDIENCE = "api://interop-opaque"
RS_SECRET = "interop-rs-secret-not-for-production"


def _verifier(provider: OidcProvider, **options: Any) -> IntrospectionVerifier:
    options.setdefault("client_id", "interop-rs")
    if "private_key" not in options:
        options.setdefault("client_secret", RS_SECRET)
    return IntrospectionVerifier(provider.issuer, options.pop("audience", AUDIENCE), **options)


async def test_opaque_token_is_introspected_with_basic_auth(oidc_provider: OidcProvider) -> None:
    """An opaque token from oidc-provider becomes Claims through discovered introspection."""
    token = await oidc_provider.token(OPAQUE, "items:read items:write")
    assert token.count(".") == 0
    async with _verifier(oidc_provider) as verifier:
        claims = await verifier.verify(token, ["items:read"])
        assert verifier.introspection_endpoint == f"{oidc_provider.issuer}/token/introspection"
    assert claims.client_id == CLIENT_ID
    assert claims.scopes == frozenset({"items:read", "items:write"})
    assert claims.audience == (AUDIENCE,)
    assert claims.issuer == oidc_provider.issuer
    assert claims.raw["token_type"] == "Bearer"


@pytest.mark.parametrize("method", ["client_secret_post", "private_key_jwt"])
async def test_other_client_auth_methods(oidc_provider: OidcProvider, method: str) -> None:
    """client_secret_post and private_key_jwt (RFC 7523) authenticate to oidc-provider too."""
    token = await oidc_provider.token(OPAQUE, "items:read")
    if method == "client_secret_post":
        options: dict[str, Any] = {"client_id": "interop-rs-post", "auth_method": method}
    else:
        jwk = oidc_provider.rs_private_jwk
        options = {
            "client_id": "interop-rs-jwt",
            "private_key": RSAAlgorithm.from_jwk(json.dumps(jwk)),
            "private_key_id": jwk["kid"],
        }
    async with _verifier(oidc_provider, **options) as verifier:
        claims = await verifier.verify(token)
    assert claims.client_id == CLIENT_ID


async def test_unknown_token_is_inactive(oidc_provider: OidcProvider) -> None:
    """A token oidc-provider never issued is active: false, hence 401."""
    async with _verifier(oidc_provider) as verifier:
        with pytest.raises(InvalidToken) as caught:
            await verifier.verify("x" * 43)
    assert caught.value.reason == "inactive"


async def test_other_audience_is_refused(oidc_provider: OidcProvider) -> None:
    """An active token for another API (its aud) is 401 bad_audience."""
    token = await oidc_provider.token(OPAQUE, "items:read")
    async with _verifier(oidc_provider, audience="api://interop") as verifier:
        with pytest.raises(InvalidToken) as caught:
            await verifier.verify(token)
    assert caught.value.reason == "bad_audience"


async def test_wrong_client_secret_is_503(oidc_provider: OidcProvider) -> None:
    """oidc-provider refusing our credentials is 503, never 401."""
    token = await oidc_provider.token(OPAQUE, "items:read")
    async with _verifier(oidc_provider, client_secret="wrong") as verifier:
        with pytest.raises(IntrospectionUnavailable):
            await verifier.verify(token)


async def test_revocation_is_seen_within_the_cache_ttl(oidc_provider: OidcProvider) -> None:
    """A token revoked at oidc-provider is refused once the cache TTL has passed."""
    token = await oidc_provider.token(OPAQUE, "items:read")
    clock = Clock(time.time())
    async with _verifier(oidc_provider, cache_ttl=10, clock=clock) as verifier:
        await verifier.verify(token)
        async with httpx.AsyncClient(trust_env=False) as http:
            meta = (
                await http.get(f"{oidc_provider.issuer}/.well-known/openid-configuration")
            ).json()
            revoked = await http.post(
                meta["revocation_endpoint"],
                data={"token": token, "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET},
            )
        assert revoked.status_code == 200
        await verifier.verify(token)  # cached: the documented trade-off
        clock.advance(11)
        with pytest.raises(InvalidToken) as caught:
            await verifier.verify(token)
    assert caught.value.reason == "inactive"


async def test_fifty_concurrent_cold_requests_make_one_introspection(
    oidc_provider: OidcProvider,
) -> None:
    """50 concurrent requests with one new opaque token cause one introspection call."""
    token = await oidc_provider.token(OPAQUE, "items:read")
    async with _verifier(oidc_provider) as verifier:
        results = await asyncio.gather(*(verifier.verify(token) for _ in range(50)))
        assert verifier.fetch_counts["introspection"] == 1
    assert len({c.client_id for c in results}) == 1


@pytest.fixture(scope="module")
def dev_issuer() -> Iterator[DevIssuer]:
    """The dev issuer on a free loopback port, beside oidc-provider."""
    sock = loopback_socket()
    local = LocalIssuer(f"{origin_of(sock)}/oauth2/default")
    dev = DevIssuer(local, clients=[DevClient("0oadevclient", ())])
    with serve(dev, sock=sock):
        yield dev


async def test_two_issuers_at_once(oidc_provider: OidcProvider, dev_issuer: DevIssuer) -> None:
    """Dev issuer and oidc-provider tokens verify side by side; each audience stays its own."""
    async with httpx.AsyncClient(trust_env=False) as http:
        minted = await http.post(f"{dev_issuer.issuer}/dev/mint", json={"scopes": ["items:read"]})
    dev_token = minted.json()["access_token"]
    oidc_token = await oidc_provider.token(RS256, "items:read")
    foreign = await oidc_provider.token(OTHER, "items:read")
    opaque = await oidc_provider.token(OPAQUE, "items:read")
    async with MultiIssuerVerifier(
        [
            TokenVerifier(dev_issuer.issuer, dev_issuer.local.audience),
            TokenVerifier(oidc_provider.issuer, "api://interop", algorithms=["RS256", "ES256"]),
        ],
        profiles={oidc_provider.issuer: TokenProfile.rfc9068()},
        opaque=_verifier(oidc_provider),
    ) as verifier:
        assert (await verifier.verify(dev_token, ["items:read"])).issuer == dev_issuer.issuer
        oidc_claims = await verifier.verify(oidc_token, ["items:read"])
        assert (oidc_claims.issuer, oidc_claims.client_id) == (oidc_provider.issuer, CLIENT_ID)
        assert (await verifier.verify(opaque)).audience == (AUDIENCE,)
        with pytest.raises(InvalidToken) as caught:
            await verifier.verify(foreign)
    assert caught.value.reason == "bad_audience"
