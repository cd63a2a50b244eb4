"""McpTokenVerifier (the SDK's TokenVerifier protocol) and claims_of."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from mcp.server.auth.middleware.bearer_auth import BearerAuthBackend
from mcp.server.auth.provider import TokenVerifier
from pydantic import AnyHttpUrl
from starlette.requests import HTTPConnection, Request

from okta_bearer import BearerUser, Claims, MissingToken
from okta_bearer.mcp import McpTokenVerifier, claims_of
from okta_bearer.testing import LocalIssuer

pytestmark = pytest.mark.anyio

RESOURCE = "https://api.example/mcp"


def adapter(issuer: LocalIssuer, required_scopes: tuple[str, ...] = ()) -> McpTokenVerifier:
    verifier = issuer.verifier(audience=RESOURCE)
    return McpTokenVerifier(verifier, resource=RESOURCE, required_scopes=required_scopes)


async def test_valid_token_becomes_an_access_token(okta_issuer: LocalIssuer) -> None:
    """Client id, scopes, expiry, resource, subject and plain claims are filled in."""
    exp = int(okta_issuer.clock()) + 600
    token = okta_issuer.mint(
        aud=["api://other", RESOURCE], scp=["b", "a"], exp=exp, nested={"x": [1]}
    )
    info = await adapter(okta_issuer).verify_token(token)
    assert info is not None
    assert (info.client_id, info.scopes, info.resource, info.subject) == (
        okta_issuer.client_id,
        ["a", "b"],
        RESOURCE,
        "alice@example.com",
    )
    assert info.expires_at == exp
    assert info.claims is not None
    assert info.claims["nested"] == {"x": [1]}
    assert info.claims["iss"] == okta_issuer.issuer


@pytest.mark.parametrize("overrides", [{"exp": 1}, {"aud": "https://api.example"}])
async def test_refused_token_is_none(okta_issuer: LocalIssuer, overrides: dict[str, Any]) -> None:
    """An expired token or one for another resource gives None (the SDK answers 401)."""
    assert await adapter(okta_issuer).verify_token(okta_issuer.mint(**overrides)) is None


async def test_required_scopes_apply(okta_issuer: LocalIssuer) -> None:
    """A token lacking a required scope gives None."""
    verifier = adapter(okta_issuer, required_scopes=("admin",))
    assert await verifier.verify_token(okta_issuer.mint(aud=RESOURCE)) is None


async def test_sdk_backend_accepts_it_with_resource_validation(okta_issuer: LocalIssuer) -> None:
    """The SDK's own BearerAuthBackend, validating the resource, authenticates through it."""
    verifier: TokenVerifier = adapter(okta_issuer)
    backend = BearerAuthBackend(verifier, resource_server_url=AnyHttpUrl(RESOURCE))
    token = okta_issuer.mint(aud=RESOURCE)
    scope = {"type": "http", "headers": [(b"authorization", f"Bearer {token}".encode())]}
    result = await backend.authenticate(HTTPConnection(scope))
    assert result is not None
    credentials, user = result
    assert "items:read" in credentials.scopes
    assert user.display_name == okta_issuer.client_id


def test_claims_of_reads_the_request_behind_the_context(okta_issuer: LocalIssuer) -> None:
    """claims_of(ctx) returns the claims the middleware put in scope['user']."""
    claims = Claims.from_payload(okta_issuer.claims())
    request = Request({"type": "http", "user": BearerUser(claims)})
    ctx = SimpleNamespace(request_context=SimpleNamespace(request=request))
    assert claims_of(ctx) is claims


def test_claims_of_without_a_token_raises(okta_issuer: LocalIssuer) -> None:
    """No verified token behind the context is MissingToken."""
    ctx = SimpleNamespace(request_context=SimpleNamespace(request=None))
    with pytest.raises(MissingToken):
        claims_of(ctx)


@pytest.mark.parametrize(
    "cnf", [{"jkt": "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"}, {"x5t#S256": "abc"}]
)
async def test_sdk_backend_refuses_a_bound_token_sent_as_bearer(
    okta_issuer: LocalIssuer, cnf: dict[str, str]
) -> None:
    """Through the SDK's own backend a sender-constrained token is no bearer token (RFC 9449)."""
    verifier: TokenVerifier = adapter(okta_issuer)
    backend = BearerAuthBackend(verifier, resource_server_url=AnyHttpUrl(RESOURCE))
    token = okta_issuer.mint(aud=RESOURCE, cnf=cnf)
    scope = {"type": "http", "headers": [(b"authorization", f"Bearer {token}".encode())]}
    assert await backend.authenticate(HTTPConnection(scope)) is None
