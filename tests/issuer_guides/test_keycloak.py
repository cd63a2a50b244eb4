"""docs/issuers/keycloak.md: Keycloak tokens (azp, realm roles, aud mapper) as configured there."""

from __future__ import annotations

from typing import Any

import pytest

from okta_bearer import InsufficientScope, InvalidToken
from okta_bearer.testing import LocalIssuer

from .helpers import keys_transport, run_page

pytestmark = pytest.mark.anyio

ISSUER = "https://keycloak.example.com/realms/myrealm"
IAT = 1673170996
SESSION = "2a88c258-f73a-4103-b862-e1fbd8f4e04e"

# The claims of org.keycloak.representations.AccessToken, as a realm issues them.
TOKEN: dict[str, Any] = {
    "exp": 1673171296,
    "iat": IAT,
    "jti": "d58f5dc8-fd8f-462b-8a19-716f8f83985b",
    "iss": ISSUER,
    "aud": ["my-api", "account"],
    "sub": "36fa0f91-f94d-4a0c-afed-6b7d952e47da",
    "typ": "Bearer",
    "azp": "my-app",
    "session_state": SESSION,
    "acr": "1",
    "allowed-origins": ["https://app.example.com"],
    "realm_access": {
        "roles": ["offline_access", "default-roles-myrealm", "uma_authorization", "items-reader"]
    },
    "resource_access": {
        "account": {"roles": ["manage-account", "manage-account-links", "view-profile"]}
    },
    "scope": "openid email profile",
    "sid": SESSION,
    "email_verified": True,
    "name": "Alice Liddell",
    "preferred_username": "alice",
    "given_name": "Alice",
    "family_name": "Liddell",
    "email": "alice@example.com",
}


def clock() -> float:
    """A minute after the token was issued."""
    return IAT + 60.0


@pytest.fixture
def local() -> LocalIssuer:
    """The realm's signing key."""
    return LocalIssuer(ISSUER)


@pytest.fixture
async def page(local: LocalIssuer, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The namespace of keycloak.md's Python blocks, fetching from ``local``; closed after."""
    namespace = run_page("keycloak.md", monkeypatch, transport=keys_transport(local), clock=clock)
    yield namespace
    for name in ("verifier", "roles_verifier"):
        await namespace[name].aclose()


def sign(local: LocalIssuer, claims: dict[str, Any]) -> str:
    """Sign with Keycloak's header (typ JWT)."""
    return local.sign(claims, header={"alg": "RS256", "typ": "JWT", "kid": local.kid})


async def test_token_is_accepted_with_scope_and_azp(
    local: LocalIssuer, page: dict[str, Any]
) -> None:
    """The realm's token passes; scopes come from scope and the client from azp."""
    claims = await page["verifier"].verify(sign(local, TOKEN), ["profile"])
    assert (claims.client_id, claims.sub) == ("my-app", TOKEN["sub"])


async def test_realm_roles_are_the_scopes(local: LocalIssuer, page: dict[str, Any]) -> None:
    """With the roles profile, realm_access.roles decide what the token may do."""
    claims = await page["roles_verifier"].verify(sign(local, TOKEN), ["items-reader"])
    assert "items-reader" in claims.scopes
    assert "profile" not in claims.scopes
    with pytest.raises(InsufficientScope):
        await page["roles_verifier"].verify(sign(local, TOKEN), ["items-writer"])


async def test_account_only_audience_is_refused(local: LocalIssuer, page: dict[str, Any]) -> None:
    """Without the audience mapper, the token's only aud is account: refused."""
    with pytest.raises(InvalidToken) as refused:
        await page["verifier"].verify(sign(local, {**TOKEN, "aud": "account"}))
    assert refused.value.reason == "bad_audience"


@pytest.mark.parametrize(
    ("realm_access", "scopes"),
    [("items-reader", set()), (None, set()), ({"roles": "x y"}, {"x", "y"}), ({}, set())],
)
async def test_odd_realm_access_never_grants_a_role(
    local: LocalIssuer, page: dict[str, Any], realm_access: object, scopes: set[str]
) -> None:
    """A realm_access of another shape grants no role it does not name."""
    claims = await page["roles_verifier"].verify(
        sign(local, {**TOKEN, "realm_access": realm_access})
    )
    assert claims.scopes == scopes


async def test_malformed_roles_are_refused(local: LocalIssuer, page: dict[str, Any]) -> None:
    """Roles that are not strings make the token malformed (401), never a 500."""
    token = sign(local, {**TOKEN, "realm_access": {"roles": [1]}})
    with pytest.raises(InvalidToken) as refused:
        await page["roles_verifier"].verify(token)
    assert refused.value.reason == "bad_claim"
