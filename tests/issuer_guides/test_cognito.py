"""docs/issuers/cognito.md: Cognito access tokens (no aud, client_id) are accepted as configured."""

from __future__ import annotations

from typing import Any

import pytest

from okta_bearer import InvalidToken
from okta_bearer.testing import LocalIssuer

from .helpers import keys_transport, run_page

pytestmark = pytest.mark.anyio

ISSUER = "https://cognito-idp.us-west-2.amazonaws.com/us-west-2_example"
IAT = 1676313851
SAME = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"

# https://docs.aws.amazon.com/cognito/latest/developerguide/amazon-cognito-user-pools-using-the-access-token.html
DOCUMENTED: dict[str, Any] = {
    "sub": SAME,
    "device_key": SAME,
    "cognito:groups": ["testgroup"],
    "iss": ISSUER,
    "version": 2,
    "client_id": "xxxxxxxxxxxxexample",
    "origin_jti": SAME,
    "event_id": SAME,
    "token_use": "access",
    "scope": "phone openid profile resourceserver.1/appclient2 email",
    "auth_time": IAT,
    "exp": 1676317451,
    "iat": IAT,
    "jti": SAME,
    "username": "my-test-user",
}


def clock() -> float:
    """A minute after the documented token was issued."""
    return IAT + 60.0


async def test_documented_access_token_is_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    """Cognito's documented access token, with no aud, passes the page's configuration."""
    local = LocalIssuer(ISSUER)
    page = run_page("cognito.md", monkeypatch, transport=keys_transport(local), clock=clock)
    token = local.sign(DOCUMENTED, header={"kid": local.kid, "alg": "RS256"})
    async with page["verifier"] as verifier:
        claims = await verifier.verify(token, ["resourceserver.1/appclient2"])
    assert (claims.sub, claims.client_id) == (SAME, "xxxxxxxxxxxxexample")
    assert claims.raw["cognito:groups"] == ("testgroup",)


@pytest.mark.parametrize(
    "token_claims",
    [
        # The ID token of the same sign-in: aud is the app client, no client_id.
        {
            **{k: v for k, v in DOCUMENTED.items() if k not in ("client_id", "scope")},
            "aud": "xxxxxxxxxxxxexample",
            "token_use": "id",
        },
        {**DOCUMENTED, "client_id": "anotherappclient"},
    ],
    ids=["id_token", "other_app_client"],
)
async def test_id_token_and_other_clients_are_refused(
    monkeypatch: pytest.MonkeyPatch, token_claims: dict[str, Any]
) -> None:
    """Without an audience, the client list refuses ID tokens and other app clients' tokens."""
    local = LocalIssuer(ISSUER)
    page = run_page("cognito.md", monkeypatch, transport=keys_transport(local), clock=clock)
    async with page["verifier"] as verifier:
        with pytest.raises(InvalidToken) as refused:
            await verifier.verify(local.sign(token_claims))
    assert refused.value.reason == "bad_client"
