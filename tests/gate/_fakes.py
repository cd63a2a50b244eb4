"""A sync verifier over a fixed table of tokens, so the gate's own rules are tested alone."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from okta_bearer import Claims, InvalidToken
from okta_bearer._jwt.validation import check_scopes

ISSUER = "https://okta.example.test/oauth2/default"


def payload(**claims: Any) -> dict[str, Any]:
    """Okta-shaped claims of a token that is valid for an hour from 2023-11-14."""
    return {
        "iss": ISSUER,
        "aud": "api://default",
        "exp": 1_700_003_600,
        "iat": 1_700_000_000,
        "sub": "alice@example.com",
        "cid": "0oa1testclient",
        "scp": ["items:read"],
        **claims,
    }


class TableVerifier:
    """``verify_sync`` answers from ``tokens``; any other token is ``invalid_token``."""

    issuer = ISSUER

    def __init__(self, tokens: Mapping[str, Mapping[str, Any]]) -> None:
        self.tokens = dict(tokens)
        self.calls: list[str] = []
        self.closed = False

    def verify_sync(self, token: str, required_scopes: Iterable[str] = ()) -> Claims:
        """The claims listed for ``token``."""
        self.calls.append(token)
        if token not in self.tokens:
            raise InvalidToken("malformed", "The access token is malformed")
        claims = Claims.from_payload(dict(self.tokens[token]))
        if required_scopes:
            check_scopes(claims, required_scopes)
        return claims

    def close(self) -> None:
        """Remember that it was closed."""
        self.closed = True
