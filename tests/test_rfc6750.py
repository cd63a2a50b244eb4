"""Reading Authorization headers and writing WWW-Authenticate challenges."""

from __future__ import annotations

import pytest

from okta_bearer import (
    InsufficientScope,
    InvalidRequest,
    InvalidToken,
    KeysUnavailable,
    MissingToken,
)
from okta_bearer._http.rfc6750 import ParsedHeaders, challenge, parse_authorization


@pytest.mark.parametrize(
    ("values", "token"),
    [
        ([], None),
        ([b"Basic dXNlcjpwYXNz"], None),
        ([b"Token abc"], None),
        ([b"DPoP abc"], None),
        ([b"Bearer abc.def.ghi"], "abc.def.ghi"),
        ([b"bearer abc"], "abc"),
        ([b"BEARER abc"], "abc"),
        ([b"Bearer  abc"], "abc"),
        ([b"Bearer abc=="], "abc=="),
        ([b"Bearer a-b_c.d~e+f/g"], "a-b_c.d~e+f/g"),
    ],
)
def test_parse_authorization(values: list[bytes], token: str | None) -> None:
    """Bearer tokens are found case-insensitively; other schemes mean no bearer credentials."""
    assert parse_authorization(values) == token


@pytest.mark.parametrize(
    ("values", "reason"),
    [
        ([b"Bearer a", b"Bearer b"], "multiple_headers"),
        ([b"Bearer "], "empty_token"),
        ([b"Bearer"], "empty_token"),
        ([b'Bearer an"invalid"token'], "bad_header"),
        ([b"Bearer a b"], "bad_header"),
        ([b"Bearer a,b"], "bad_header"),
        ([b"Bearer =abc"], "bad_header"),
        (["Bearer caf\u00e9".encode()], "bad_header"),
        ([b"Bearer \xff"], "bad_header"),
    ],
)
def test_malformed_authorization(values: list[bytes], reason: str) -> None:
    """Malformed or duplicated headers are an invalid_request (400)."""
    with pytest.raises(InvalidRequest) as info:
        parse_authorization(values)
    assert info.value.reason == reason
    assert info.value.status == 400


def test_bare_challenge_for_missing_token() -> None:
    """RFC 6750 3.1: no credentials -> a challenge without an error code."""
    assert challenge(MissingToken(), realm="api") == 'Bearer realm="api"'
    assert challenge(None, realm=None) == "Bearer"


def test_invalid_token_challenge() -> None:
    """An invalid token names invalid_token and a short description."""
    value = challenge(InvalidToken("expired", "Token has expired"), realm="api")
    assert (
        value == 'Bearer realm="api", error="invalid_token", error_description="Token has expired"'
    )


def test_insufficient_scope_challenge_lists_scopes() -> None:
    """insufficient_scope carries the required scopes, dropping names that cannot be quoted."""
    value = challenge(InsufficientScope(["items:read", 'a"b', "x"]), realm="api")
    assert 'error="insufficient_scope"' in value
    assert 'scope="items:read x"' in value


def test_description_is_sanitised() -> None:
    """Quotes, backslashes and non-ASCII in a description cannot break the header."""
    value = challenge(InvalidToken("x", 'bad "quote" \\ caf\u00e9\r\n'), realm='r"')
    assert value.count('"') == 6
    assert "\\" not in value
    assert "\r" not in value
    assert "\u00e9" not in value


def test_details_can_be_switched_off() -> None:
    """With details off, even an invalid token gets a bare challenge."""
    assert challenge(InvalidToken("x", "y"), realm="api", details=False) == 'Bearer realm="api"'


def test_no_error_attributes_for_503() -> None:
    """An unavailable key set is not the client's fault: no error code in the challenge."""
    assert challenge(KeysUnavailable("k", "d"), realm="api") == 'Bearer realm="api"'


def test_parsed_headers_answer_as_parsing_does() -> None:
    """The header memo returns what parsing returns; refusals and unknown headers are parsed."""
    memo = ParsedHeaders(size=2)
    header = [b"Bearer abc.def.ghi"]
    assert memo.parse(header) == "abc.def.ghi"
    memo.remember(header, "abc.def.ghi")
    assert memo.parse([b"Bearer abc.def.ghi"]) == "abc.def.ghi"
    # Two headers are a 400 even when each alone was remembered.
    with pytest.raises(InvalidRequest):
        memo.parse([b"Bearer abc.def.ghi", b"Bearer abc.def.ghi"])
    with pytest.raises(InvalidRequest):
        memo.parse([b"Bearer a b"])
    assert memo.parse([b"Basic dXNlcjpwYXNz"]) is None


def test_parsed_headers_stay_bounded() -> None:
    """At its size the memo starts over instead of growing."""
    memo = ParsedHeaders(size=2)
    for n in range(5):
        memo.remember([f"Bearer t{n}".encode()], f"t{n}")
        assert len(memo._tokens) <= 2
    assert memo.parse([b"Bearer t4"]) == "t4"
