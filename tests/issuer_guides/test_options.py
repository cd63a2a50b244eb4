"""The verifier options issuers need: audience=None (Cognito) and tenants (Entra multi-tenant)."""

from __future__ import annotations

from typing import Any

import pytest

from okta_bearer import ConfigurationError, InvalidToken, TokenVerifier
from okta_bearer.testing import LocalIssuer

pytestmark = pytest.mark.anyio

TEMPLATE = "https://login.microsoftonline.com/{tenantid}/v2.0"
KEYS = "https://login.microsoftonline.com/common/discovery/v2.0/keys"
TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"


@pytest.mark.parametrize(
    ("issuer", "options", "message"),
    [
        ("https://cognito.example", {"audience": None}, "audience=None needs client_ids"),
        (
            "https://cognito.example",
            {"audience": None, "client_ids": []},
            "client_ids must not be empty",
        ),
        (TEMPLATE, {"audience": "api", "jwks_uri": KEYS}, "give tenants="),
        (TEMPLATE, {"audience": "api", "tenants": [TENANT]}, "tenants needs jwks_uri"),
        ("https://issuer.example", {"audience": "api", "tenants": "any"}, "needs an issuer"),
        (
            TEMPLATE,
            {"audience": "api", "tenants": ["Contoso"], "jwks_uri": KEYS},
            "not a lower-case tenant GUID",
        ),
        (
            TEMPLATE,
            {"audience": "api", "tenants": [TENANT.upper()], "jwks_uri": KEYS},
            "not a lower-case tenant GUID",
        ),
        (TEMPLATE, {"audience": "api", "tenants": [], "jwks_uri": KEYS}, "must not be empty"),
        (
            "http://evil.example/{tenantid}",
            {"audience": "api", "tenants": "any", "jwks_uri": KEYS},
            "must use https",
        ),
        ("https://a.example/{other}", {"audience": "api"}, "placeholder"),
    ],
)
def test_unsafe_configurations_are_refused(
    issuer: str, options: dict[str, Any], message: str
) -> None:
    """Each loosening must be explicit and complete, or construction fails naming the option."""
    with pytest.raises(ConfigurationError, match=message):
        TokenVerifier(issuer, **options)


@pytest.mark.parametrize("aud", [7, ["api", 7], {"a": 1}, True])
async def test_unchecked_audience_must_still_be_well_formed(aud: object) -> None:
    """With audience=None, an aud that is present must still be a string or list (401, not 500)."""
    local = LocalIssuer("https://cognito.example/pool")
    async with local.verifier(audience=None, client_ids=["0oa1testclient"]) as verifier:
        assert (await verifier.verify(local.mint(aud="anything"))).audience == ("anything",)
        with pytest.raises(InvalidToken) as refused:
            await verifier.verify(local.mint(aud=aud))
    assert refused.value.reason == "bad_claim"


async def test_audience_is_still_checked_by_default() -> None:
    """A token without aud is refused by a verifier given an audience (strict by default)."""
    from okta_bearer.testing import OMIT

    local = LocalIssuer("https://cognito.example/pool")
    async with local.verifier() as verifier:
        with pytest.raises(InvalidToken) as refused:
            await verifier.verify(local.mint(aud=OMIT))
    assert refused.value.reason == "missing_claim"


@pytest.mark.parametrize("scope_claim", [(), ("realm_access", ""), ("a", 1), "", ["a", "b"]])
def test_token_profile_scope_claim_must_name_claims(scope_claim: Any) -> None:
    """A nested scope claim is a non-empty tuple of non-empty names; anything else is refused."""
    from okta_bearer import TokenProfile

    with pytest.raises(ConfigurationError, match="scope_claim"):
        TokenProfile(scope_claim=scope_claim)
