"""docs/issuers/google.md: a Google-signed service-account ID token, as configured there."""

from __future__ import annotations

from typing import Any

import pytest

from okta_bearer import InvalidToken
from okta_bearer.testing import LocalIssuer

from .helpers import keys_transport, run_page

pytestmark = pytest.mark.anyio

ISSUER = "https://accounts.google.com"
IAT = 1733160115

# https://cloud.google.com/docs/authentication/token-types#id
DOCUMENTED: dict[str, Any] = {
    "aud": "https://example.com",
    "azp": "112010400000000710080",
    "email": "service-1234@example.iam.gserviceaccount.com",
    "email_verified": True,
    "exp": 1733163715,
    "iat": IAT,
    "iss": ISSUER,
    "sub": "112010400000000710080",
}


def clock() -> float:
    """A minute after the documented token was issued."""
    return IAT + 60.0


async def test_service_account_id_token(monkeypatch: pytest.MonkeyPatch) -> None:
    """The documented ID token passes; only listed, verified callers are allowed."""
    local = LocalIssuer(ISSUER)
    page = run_page("google.md", monkeypatch, transport=keys_transport(local), clock=clock)
    header = {"alg": "RS256", "kid": local.kid, "typ": "JWT"}
    async with page["verifier"] as verifier:
        claims = await verifier.verify(local.sign(DOCUMENTED, header=header))
        stranger = await verifier.verify(local.sign({**DOCUMENTED, "email": "x@evil.example"}))
        unverified = await verifier.verify(local.sign({**DOCUMENTED, "email_verified": False}))
        with pytest.raises(InvalidToken) as bare_iss:
            await verifier.verify(local.sign({**DOCUMENTED, "iss": "accounts.google.com"}))
    allowed = page["caller_allowed"]
    assert (allowed(claims), allowed(stranger), allowed(unverified)) == (True, False, False)
    assert bare_iss.value.reason == "bad_issuer"
