"""Tokens issued by panva's oidc-provider, an independent OpenID Connect implementation.

The provider runs as a Node.js process on 127.0.0.1 (see ``conftest.py``) and
issues RFC 9068 JWT access tokens for the client_credentials grant.  The
verifier finds its keys through discovery over real loopback HTTP: the provider
publishes only ``/.well-known/openid-configuration``, so the
``oauth-authorization-server`` lookup must fall back to it.
"""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from okta_bearer import BearerAuthMiddleware, InsufficientScope, InvalidToken, TokenVerifier

from .conftest import CLIENT_ID, OidcProvider

pytestmark = [pytest.mark.interop, pytest.mark.anyio]

RS256 = "urn:okta-bearer:rs256"  # aud api://interop, RS256 (see provider/server.mjs)
ES256 = "urn:okta-bearer:es256"  # aud api://interop-es256, ES256
OTHER = "urn:okta-bearer:other"  # aud api://someone-else, RS256
AUDIENCE = "api://interop"


def _segment(token: str, index: int) -> dict[str, Any]:
    part = token.split(".")[index]
    decoded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    return decoded


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


@pytest.fixture
async def verifiers() -> AsyncIterator[list[TokenVerifier]]:
    """Verifiers made by the test, closed (with their HTTP clients) when it ends."""
    made: list[TokenVerifier] = []
    yield made
    for verifier in made:
        await verifier.aclose()


def _verifier(provider: OidcProvider, made: list[TokenVerifier], **options: Any) -> TokenVerifier:
    options.setdefault("audience", AUDIENCE)
    # An explicit transport ignores proxy variables: everything here is on loopback.
    verifier = TokenVerifier(provider.issuer, transport=httpx.AsyncHTTPTransport(), **options)
    made.append(verifier)
    return verifier


async def test_rs256_token_verifies_through_discovery_fallback(
    oidc_provider: OidcProvider, verifiers: list[TokenVerifier]
) -> None:
    """An RS256 oidc-provider token verifies; keys found via the openid-configuration fallback."""
    token = await oidc_provider.token(RS256, "items:read items:write")
    header = _segment(token, 0)
    assert header["typ"] == "at+jwt"
    assert header["alg"] == "RS256"

    verifier = _verifier(oidc_provider, verifiers)
    claims = await verifier.verify(token)

    assert claims.issuer == oidc_provider.issuer
    assert claims.audience == (AUDIENCE,)
    assert claims.client_id == CLIENT_ID
    assert claims.sub == CLIENT_ID  # RFC 9068: a client's own token has the client as subject
    assert claims.scopes == frozenset({"items:read", "items:write"})
    assert claims.raw["scope"] == "items:read items:write"
    assert claims.jti
    assert claims.issued_at is not None
    assert claims.expires_at > claims.issued_at
    # oauth-authorization-server answered 404, openid-configuration named the keys.
    assert verifier.keys.fetch_counts == {"discovery": 2, "jwks": 1}
    assert verifier.keys.jwks_uri == f"{oidc_provider.issuer}/jwks"


async def test_require_at_jwt_accepts_rfc9068_tokens(
    oidc_provider: OidcProvider, verifiers: list[TokenVerifier]
) -> None:
    """With require_at_jwt=True the provider's ``typ: at+jwt`` tokens are accepted."""
    token = await oidc_provider.token(RS256, "items:read")
    verifier = _verifier(oidc_provider, verifiers, require_at_jwt=True)
    claims = await verifier.verify(token, required_scopes=["items:read"])
    assert claims.scopes == frozenset({"items:read"})


async def test_es256_token_verifies(
    oidc_provider: OidcProvider, verifiers: list[TokenVerifier]
) -> None:
    """An ES256 (P-256) access token from the provider verifies with ES256 allowed."""
    token = await oidc_provider.token(ES256, "admin")
    assert _segment(token, 0)["alg"] == "ES256"
    verifier = _verifier(
        oidc_provider, verifiers, audience="api://interop-es256", algorithms=("RS256", "ES256")
    )
    claims = await verifier.verify(token, required_scopes=["admin"])
    assert claims.audience == ("api://interop-es256",)
    assert claims.scopes == frozenset({"admin"})


async def test_es256_token_refused_when_only_rs256_allowed(
    oidc_provider: OidcProvider, verifiers: list[TokenVerifier]
) -> None:
    """The default RS256-only allow-list refuses the provider's ES256 token."""
    token = await oidc_provider.token(ES256, "admin")
    verifier = _verifier(oidc_provider, verifiers, audience="api://interop-es256")
    with pytest.raises(InvalidToken) as caught:
        await verifier.verify(token)
    assert caught.value.reason == "bad_alg"


async def test_wrong_audience_is_rejected(
    oidc_provider: OidcProvider, verifiers: list[TokenVerifier]
) -> None:
    """A genuine token issued for another resource server is refused for its audience."""
    token = await oidc_provider.token(OTHER, "items:read")
    assert _segment(token, 1)["aud"] == "api://someone-else"
    verifier = _verifier(oidc_provider, verifiers)
    with pytest.raises(InvalidToken) as caught:
        await verifier.verify(token)
    assert caught.value.reason == "bad_audience"


async def test_tampered_token_is_rejected(
    oidc_provider: OidcProvider, verifiers: list[TokenVerifier]
) -> None:
    """Granting oneself an extra scope in the payload breaks the provider's signature."""
    token = await oidc_provider.token(RS256, "items:read")
    header, _, signature = token.split(".")
    payload = _segment(token, 1)
    payload["scope"] = "items:read admin"
    forged = f"{header}.{_b64(json.dumps(payload).encode())}.{signature}"
    verifier = _verifier(oidc_provider, verifiers)
    with pytest.raises(InvalidToken) as caught:
        await verifier.verify(forged)
    assert caught.value.reason == "bad_signature"
    # The genuine token still verifies with the same keys.
    assert (await verifier.verify(token)).scopes == frozenset({"items:read"})


async def test_missing_scope_is_insufficient(
    oidc_provider: OidcProvider, verifiers: list[TokenVerifier]
) -> None:
    """A valid provider token without a required scope raises InsufficientScope (403)."""
    token = await oidc_provider.token(RS256, "items:read")
    verifier = _verifier(oidc_provider, verifiers)
    with pytest.raises(InsufficientScope) as caught:
        await verifier.verify(token, required_scopes=["items:write"])
    assert caught.value.status == 403
    assert tuple(caught.value.required) == ("items:write",)


async def test_middleware_with_provider_tokens(
    oidc_provider: OidcProvider, verifiers: list[TokenVerifier]
) -> None:
    """BearerAuthMiddleware answers 200/401/403 for provider tokens, fetching keys once."""

    async def whoami(request: Request) -> JSONResponse:
        return JSONResponse(
            {"client_id": request.user.claims.client_id, "scopes": sorted(request.auth.scopes)}
        )

    verifier = _verifier(oidc_provider, verifiers)
    app = Starlette(routes=[Route("/whoami", whoami)])
    app.add_middleware(BearerAuthMiddleware, verifier=verifier, required_scopes=["items:read"])

    good = await oidc_provider.token(RS256, "items:read items:write")
    narrow = await oidc_provider.token(RS256, "items:write")
    foreign = await oidc_provider.token(OTHER, "items:read")
    header, payload, signature = good.split(".")
    tampered = f"{header}.{payload}.{signature[:-4]}AAAA"

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api.test") as client:

        async def get(token: str | None) -> httpx.Response:
            headers = {} if token is None else {"Authorization": f"Bearer {token}"}
            return await client.get("/whoami", headers=headers)

        ok = await get(good)
        assert ok.status_code == 200
        assert ok.json() == {"client_id": CLIENT_ID, "scopes": ["items:read", "items:write"]}

        missing = await get(None)
        assert missing.status_code == 401
        assert missing.headers["www-authenticate"] == 'Bearer realm="api"'

        for bad in (tampered, foreign):
            denied = await get(bad)
            assert denied.status_code == 401
            assert 'error="invalid_token"' in denied.headers["www-authenticate"]
            assert denied.json()["error"] == "invalid_token"
            assert bad not in denied.text

        forbidden = await get(narrow)
        assert forbidden.status_code == 403
        challenge = forbidden.headers["www-authenticate"]
        assert 'error="insufficient_scope"' in challenge
        assert 'scope="items:read"' in challenge

    assert verifier.keys.fetch_counts["jwks"] == 1


async def test_verifier_with_its_own_http_client(oidc_provider: OidcProvider) -> None:
    """Without a transport, the verifier's own client fetches the provider's keys, then closes."""
    token = await oidc_provider.token(RS256, "items:read")
    async with TokenVerifier(oidc_provider.issuer, AUDIENCE) as verifier:
        claims = await verifier.verify(token, required_scopes=["items:read"])
    assert claims.client_id == CLIENT_ID
    assert verifier.keys.fetch_counts["jwks"] == 1
