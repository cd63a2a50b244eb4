"""docs/issuers/auth0.md: Auth0 tokens (aud list, azp, permissions) accepted as configured there."""

from __future__ import annotations

from typing import Any

import pytest

from okta_bearer import InsufficientScope, InvalidToken
from okta_bearer.testing import LocalIssuer

from .helpers import keys_transport, run_page

pytestmark = pytest.mark.anyio

ISSUER = "https://my-domain.auth0.com/"
IAT = 1311280970

# https://auth0.com/docs/secure/tokens/access-tokens/access-token-profiles
AUTH0_PROFILE: dict[str, Any] = {
    "iss": ISSUER,
    "sub": "auth0|123456",
    "aud": ["https://example.com/health-api", "https://my-domain.auth0.com/userinfo"],
    "azp": "my_client_id",
    "exp": 1311281970,
    "iat": IAT,
    "scope": "openid profile read:patients read:admin",
    "my_custom_claim": "my_custom_value",
}
RFC9068_PROFILE: dict[str, Any] = {
    **{k: v for k, v in AUTH0_PROFILE.items() if k != "azp"},
    "client_id": "my_client_id",
    "jti": "73WakrfVbNJBaAmhQtEeDv",
}


def clock() -> float:
    """A minute after the documented token was issued."""
    return IAT + 60.0


@pytest.fixture
def local() -> LocalIssuer:
    """The tenant's signing key."""
    return LocalIssuer(ISSUER)


@pytest.fixture
async def page(local: LocalIssuer, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The namespace of auth0.md's Python blocks, fetching from ``local``; closed after."""
    namespace = run_page(
        "auth0.md", monkeypatch, transport=keys_transport(local, issuer=ISSUER), clock=clock
    )
    yield namespace
    for name in ("verifier", "rfc9068_verifier", "rbac_verifier"):
        await namespace[name].aclose()


async def test_auth0_profile_token_is_accepted(local: LocalIssuer, page: dict[str, Any]) -> None:
    """The documented Auth0-profile token (aud list, trailing-slash iss) passes."""
    token = local.sign(AUTH0_PROFILE, header={"alg": "RS256", "typ": "JWT", "kid": local.kid})
    claims = await page["verifier"].verify(token, ["read:patients"])
    assert claims.audience == (
        "https://example.com/health-api",
        "https://my-domain.auth0.com/userinfo",
    )
    assert claims.sub == "auth0|123456"


async def test_rfc9068_profile_token_is_accepted(local: LocalIssuer, page: dict[str, Any]) -> None:
    """The documented RFC 9068-profile token (typ at+jwt, client_id) passes; typ JWT does not."""
    at_jwt = local.sign(RFC9068_PROFILE, header={"alg": "RS256", "typ": "at+jwt", "kid": local.kid})
    claims = await page["rfc9068_verifier"].verify(at_jwt)
    assert claims.client_id == "my_client_id"
    plain = local.sign(RFC9068_PROFILE, header={"typ": "JWT"})
    with pytest.raises(InvalidToken):
        await page["rfc9068_verifier"].verify(plain)


async def test_rbac_permissions_are_the_scopes(local: LocalIssuer, page: dict[str, Any]) -> None:
    """With the RBAC profile, permissions (not scope) decide, and azp is the client."""
    token = local.sign({**AUTH0_PROFILE, "permissions": ["read:patients"]})
    claims = await page["rbac_verifier"].verify(token, ["read:patients"])
    assert (claims.scopes, claims.client_id) == ({"read:patients"}, "my_client_id")
    with pytest.raises(InsufficientScope):
        await page["rbac_verifier"].verify(token, ["read:admin"])  # in scope, not granted by RBAC
