"""error_response: one pure function builds every refusal's status, headers and body."""

from __future__ import annotations

import json

import pytest

from okta_bearer import (
    BearerError,
    ConfigurationError,
    InsufficientScope,
    InvalidToken,
    KeysUnavailable,
    MissingToken,
    ReplayCacheUnavailable,
)
from okta_bearer._http.responses import ChallengeSettings, error_response

SETTINGS = ChallengeSettings()


def header(headers: list[tuple[bytes, bytes]], name: bytes) -> list[bytes]:
    return [v for k, v in headers if k == name]


def test_invalid_token_answer() -> None:
    """An invalid token: 401, the error in the challenge and the body, no-store, exact length."""
    response = error_response(InvalidToken("expired", "Token has expired"), SETTINGS)
    assert response.status == 401
    assert header(response.headers, b"www-authenticate") == [
        b'Bearer realm="api", error="invalid_token", error_description="Token has expired"'
    ]
    assert header(response.headers, b"cache-control") == [b"no-store"]
    assert header(response.headers, b"content-length") == [str(len(response.body)).encode()]
    assert json.loads(response.body) == {
        "error": "invalid_token",
        "error_description": "Token has expired",
    }


def test_missing_scope_body_names_only_the_missing_ones() -> None:
    """The 403 challenge lists the required scopes; the body lists those the token lacks."""
    error = InsufficientScope(["items:read", "items:write"], ["items:read"])
    response = error_response(error, SETTINGS)
    assert header(response.headers, b"www-authenticate")[0].endswith(
        b'scope="items:read items:write"'
    )
    assert json.loads(response.body)["missing_scope"] == "items:write"


@pytest.mark.parametrize(
    "error", [KeysUnavailable("down", "Keys down", 9), ReplayCacheUnavailable(9)]
)
def test_unavailable_is_503_without_challenge(error: BearerError) -> None:
    """Any 503 carries Retry-After and no challenge: the token was never judged."""
    response = error_response(error, SETTINGS)
    assert response.status == 503
    assert header(response.headers, b"retry-after") == [b"9"]
    assert header(response.headers, b"www-authenticate") == []
    assert json.loads(response.body)["error"] == "temporarily_unavailable"


def test_details_off_reveals_nothing() -> None:
    """With details off the challenge is bare and the body is nulls, even for a 403."""
    response = error_response(InsufficientScope(["a"]), ChallengeSettings(details=False))
    assert header(response.headers, b"www-authenticate") == [b'Bearer realm="api"']
    assert json.loads(response.body) == {"error": None, "error_description": None}


def test_custom_body_keeps_the_protocol_headers() -> None:
    """A replacement body changes the body only: status and challenge stay."""
    response = error_response(MissingToken(), SETTINGS, {"title": "Sign in"})
    assert response.status == 401
    assert header(response.headers, b"www-authenticate") == [b'Bearer realm="api"']
    assert json.loads(response.body) == {"title": "Sign in"}


def test_ready_challenges_replace_the_bearer_one() -> None:
    """Several schemes (Bearer and DPoP, RFC 9449 7.1) arrive as ready header fields."""
    challenges = [
        (b"www-authenticate", b'Bearer realm="api"'),
        (b"www-authenticate", b'DPoP algs="ES256", error="invalid_dpop_proof"'),
        (b"dpop-nonce", b"n-1"),
    ]
    response = error_response(InvalidToken("x", "y"), SETTINGS, challenges=challenges)
    assert header(response.headers, b"www-authenticate") == [c[1] for c in challenges[:2]]
    assert header(response.headers, b"dpop-nonce") == [b"n-1"]


def test_no_realm() -> None:
    """realm=None leaves the realm out of the challenge."""
    response = error_response(MissingToken(), ChallengeSettings(realm=None))
    assert header(response.headers, b"www-authenticate") == [b"Bearer"]


@pytest.mark.parametrize("realm", ['a"b', "a\\b", "caf\u00e9", "a\r\nb"])
def test_unquotable_realm_is_a_configuration_error(realm: str) -> None:
    """A realm that cannot be quoted as is is refused at start-up, not silently rewritten."""
    with pytest.raises(ConfigurationError, match="realm"):
        ChallengeSettings(realm=realm)
