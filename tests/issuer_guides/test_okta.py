"""docs/issuers/okta.md: its configurations accept tokens shaped as Okta documents them."""

from __future__ import annotations

from typing import Any

import pytest

from okta_bearer import InvalidToken
from okta_bearer.testing import IntrospectionServer, LocalIssuer

from .helpers import keys_transport, run_page

pytestmark = pytest.mark.anyio

CUSTOM = "https://dev-123456.okta.com/oauth2/aus1a2b3c4d5e6f7g8h9"
ORG = "https://dev-123456.okta.com"
IAT = 1467145094

# https://developer.okta.com/docs/api/openapi/okta-oauth/guides/overview/ ("Access token"),
# with the page's issuer in place of the template.
DOCUMENTED: dict[str, Any] = {
    "ver": 1,
    "jti": "AT.0mP4JKAZX1iACIT4vbEDF7LpvDVjxypPMf0D7uX39RE",
    "iss": CUSTOM,
    "aud": "https://api.example.com",
    "sub": "00ujmkLgagxeRrAg20g3",
    "iat": IAT,
    "exp": 1467148694,
    "cid": "nmdP1fcyvdVO11AL7ECm",
    "uid": "00ujmkLgagxeRrAg20g3",
    "scp": ["openid", "email", "flights", "custom"],
    "custom_claim": "CustomValue",
}


def clock() -> float:
    """A minute after the documented token was issued."""
    return IAT + 60.0


async def test_custom_server_token_is_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    """A custom-server token with Okta's documented header and claims is accepted as configured."""
    local = LocalIssuer(CUSTOM)
    page = run_page(
        "okta.md",
        monkeypatch,
        transport=keys_transport(local),
        clock=clock,
        env={"OKTA_CLIENT_SECRET": "unused"},
    )
    token = local.sign(DOCUMENTED, header={"alg": "RS256", "kid": local.kid})
    async with page["verifier"] as verifier:
        claims = await verifier.verify(token, ["flights"])
        assert (claims.sub, claims.client_id) == ("00ujmkLgagxeRrAg20g3", "nmdP1fcyvdVO11AL7ECm")
        assert claims.scopes == {"openid", "email", "flights", "custom"}
        other_app = local.sign({**DOCUMENTED, "cid": "0oaanotherapp"})
        with pytest.raises(InvalidToken) as refused:
            await verifier.verify(other_app)
    assert refused.value.reason == "bad_client"
    await page["org_verifier"].aclose()


async def test_org_server_token_is_judged_by_introspection(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An org-server token (iss and aud the org URL) is accepted through introspection."""
    local = LocalIssuer(ORG, ORG, clock=clock)
    server = IntrospectionServer(
        local, client_id="0oa1this2api3client", client_secret="s3cr3t-from-okta"
    )
    page = run_page(
        "okta.md",
        monkeypatch,
        transport=server.transport(),
        clock=clock,
        env={"OKTA_CLIENT_SECRET": "s3cr3t-from-okta"},
    )
    token = local.sign({**DOCUMENTED, "iss": ORG, "aud": ORG}, header={"kid": local.kid})
    async with page["org_verifier"] as verifier:
        claims = await verifier.verify(token)
        assert claims.sub == "00ujmkLgagxeRrAg20g3"
    assert server.count("/v1/introspect") == 1
    await page["verifier"].aclose()
