"""docs/issuers/entra.md: v1, v2, app-only and multi-tenant Entra ID tokens, as configured there."""

from __future__ import annotations

from typing import Any

import pytest

from okta_bearer import InvalidToken
from okta_bearer.testing import OMIT, LocalIssuer

from .helpers import keys_transport, run_page

pytestmark = pytest.mark.anyio

TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
PERSONAL = "9188040d-6c67-4c5b-b112-36a304b66dad"
OTHER = "0b3c7a5e-1f2d-4c6b-9a8e-7d6c5b4a3f21"
API = "6e74172b-be56-4843-9ff4-e66a39bb12e3"
V2 = f"https://login.microsoftonline.com/{TENANT}/v2.0"
IAT = 1537231048

# https://learn.microsoft.com/en-us/entra/identity-platform/access-tokens (v2 sample) and
# https://learn.microsoft.com/en-us/entra/identity-platform/access-token-claims-reference
DOCUMENTED_V2: dict[str, Any] = {
    "aud": API,
    "iss": V2,
    "iat": IAT,
    "nbf": IAT,
    "exp": 1537234948,
    "aio": "AXQAi/8IAAAAtAaZLo3ChMif6KOnttRB7eBq4/DccQzjcJGxPYy/C3jDaNGxXd6wNIIVGRghNRnwJ1lOc",
    "azp": API,
    "azpacr": "0",
    "name": "Abe Lincoln",
    "oid": "690222be-ff1a-4d56-abd1-7e4f7d38e474",
    "preferred_username": "abeli@microsoft.com",
    "rh": "I",
    "scp": "access_as_user",
    "sub": "HKZpfaHyWadeOouYlitjrI-KffTm222X5rrV3xDqfKQ",
    "tid": TENANT,
    "uti": "fqiBqXLPj0eQa82S-IYFAA",
    "ver": "2.0",
}

# The v1 claims of the reference: acr, amr, appid, appidacr, unique_name; no azp, azpacr,
# preferred_username; iss on sts.windows.net; aud as the client asked (the App ID URI here).
DOCUMENTED_V1: dict[str, Any] = {
    **{k: v for k, v in DOCUMENTED_V2.items() if k not in ("azp", "azpacr", "preferred_username")},
    "aud": f"api://{API}",
    "iss": f"https://sts.windows.net/{TENANT}/",
    "acr": "1",
    "amr": ["pwd"],
    "appid": API,
    "appidacr": "0",
    "unique_name": "abeli@microsoft.com",
    "ver": "1.0",
}

JWKS_PATHS = (f"/{TENANT}/discovery/keys", "/common/discovery/v2.0/keys")


def clock() -> float:
    """A minute after the documented token was issued."""
    return IAT + 60.0


@pytest.fixture
def local() -> LocalIssuer:
    """Entra's keys (one key set signs for every tenant and version)."""
    return LocalIssuer(V2)


@pytest.fixture
def page(local: LocalIssuer, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """The namespace of entra.md's Python blocks, fetching from ``local``."""
    return run_page(
        "entra.md", monkeypatch, transport=keys_transport(local, JWKS_PATHS), clock=clock
    )


def v2_header(local: LocalIssuer) -> dict[str, Any]:
    """The documented v2 header (the key's own kid)."""
    return {"typ": "JWT", "alg": "RS256", "kid": local.kid}


async def close(page: dict[str, Any]) -> None:
    """Close every verifier the page built."""
    for name in ("both_versions", "daemons", "everyone"):
        await page[name].aclose()


async def test_v2_token_is_accepted(local: LocalIssuer, page: dict[str, Any]) -> None:
    """The documented v2 token passes the single-tenant verifier; scp is a string."""
    claims = await page["verifier"].verify(
        local.sign(DOCUMENTED_V2, header=v2_header(local)), ["access_as_user"]
    )
    assert claims.scopes == {"access_as_user"}
    await close(page)


async def test_v1_and_v2_tokens_through_both_versions(
    local: LocalIssuer, page: dict[str, Any]
) -> None:
    """A v1 token (x5t header, sts.windows.net iss, api:// aud) and a v2 token both pass."""
    v1_header = {**v2_header(local), "x5t": local.kid}
    v1 = await page["both_versions"].verify(local.sign(DOCUMENTED_V1, header=v1_header))
    v2 = await page["both_versions"].verify(local.sign(DOCUMENTED_V2, header=v2_header(local)))
    assert (v1.raw["ver"], v2.raw["ver"]) == ("1.0", "2.0")
    assert v1.scopes == v2.scopes == {"access_as_user"}
    await close(page)


async def test_app_only_roles_become_scopes(local: LocalIssuer, page: dict[str, Any]) -> None:
    """An app-only token (roles, no scp) passes the daemon profile's scope check."""
    app_only = {**DOCUMENTED_V2, "scp": OMIT, "roles": ["Items.Read.All"], "sub": "a-sp-oid"}
    token = local.sign({k: v for k, v in app_only.items() if v is not OMIT})
    claims = await page["daemons"].verify(token, ["Items.Read.All"])
    assert (claims.scopes, claims.client_id) == ({"Items.Read.All"}, API)
    await close(page)


async def test_multi_tenant_accepts_listed_tenants(
    local: LocalIssuer, page: dict[str, Any]
) -> None:
    """Each listed tenant's token passes when its iss is the template filled with its tid."""
    for tid in (TENANT, PERSONAL):
        iss = f"https://login.microsoftonline.com/{tid}/v2.0"
        claims = await page["multi_tenant"].verify(
            local.sign({**DOCUMENTED_V2, "iss": iss, "tid": tid}, header=v2_header(local))
        )
        assert claims.issuer == iss
    await close(page)


@pytest.mark.parametrize(
    ("iss_tenant", "tid", "reason"),
    [
        (OTHER, OTHER, "bad_issuer"),  # a tenant nobody listed
        (OTHER, TENANT, "bad_issuer"),  # a listed tid under another tenant's iss
        (TENANT, None, "missing_claim"),  # no tid at all
        (TENANT, TENANT.upper(), "bad_claim"),  # not a tenant id as Entra writes it
    ],
)
async def test_multi_tenant_refuses_other_tenants(
    local: LocalIssuer, page: dict[str, Any], iss_tenant: str, tid: str | None, reason: str
) -> None:
    """The template is filled from the token's own tid, which must be a listed tenant."""
    claims = {**DOCUMENTED_V2, "iss": f"https://login.microsoftonline.com/{iss_tenant}/v2.0"}
    claims["tid"] = tid if tid is not None else OMIT
    token = local.sign({k: v for k, v in claims.items() if v is not OMIT})
    with pytest.raises(InvalidToken) as refused:
        await page["multi_tenant"].verify(token)
    assert refused.value.reason == reason
    await close(page)


async def test_any_tenant_still_needs_iss_to_match_tid(local: LocalIssuer) -> None:
    """With tenants="any", a token of any tenant passes, but its iss must name its own tid."""
    from okta_bearer import TokenVerifier

    verifier = TokenVerifier(
        "https://login.microsoftonline.com/{tenantid}/v2.0",
        API,
        tenants="any",
        jwks_uri="https://login.microsoftonline.com/common/discovery/v2.0/keys",
        transport=keys_transport(local, JWKS_PATHS),
        clock=clock,
    )
    async with verifier:
        other = f"https://login.microsoftonline.com/{OTHER}/v2.0"
        ok = await verifier.verify(local.sign({**DOCUMENTED_V2, "iss": other, "tid": OTHER}))
        with pytest.raises(InvalidToken) as refused:
            await verifier.verify(local.sign({**DOCUMENTED_V2, "iss": other, "tid": TENANT}))
    assert ok.issuer == other
    assert refused.value.reason == "bad_issuer"


async def test_multi_tenant_beside_another_issuer(local: LocalIssuer, page: dict[str, Any]) -> None:
    """A MultiIssuerVerifier routes a tenant's iss to the template's verifier, which checks tid."""
    iss = f"https://login.microsoftonline.com/{PERSONAL}/v2.0"
    claims = await page["everyone"].verify(
        local.sign({**DOCUMENTED_V2, "iss": iss, "tid": PERSONAL})
    )
    assert claims.issuer == iss
    for tid, reason in ((OTHER, "bad_issuer"), ("not-a-guid", "unknown_issuer")):
        other = f"https://login.microsoftonline.com/{tid}/v2.0"
        token = local.sign({**DOCUMENTED_V2, "iss": other, "tid": tid})
        with pytest.raises(InvalidToken) as refused:
            await page["everyone"].verify(token)
        assert refused.value.reason == reason
    await close(page)
