"""Compact JWS parsing and protected-header checks."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from okta_bearer import InvalidToken
from okta_bearer._jwt.jws import decode_payload, parse_token
from okta_bearer.testing import OMIT, LocalIssuer

ALGS = frozenset({"RS256"})


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def with_header(header: dict[str, Any]) -> str:
    return f"{b64(json.dumps(header).encode())}.{b64(b'{}')}.{b64(b'sig')}"


@pytest.fixture(scope="module")
def issuer() -> LocalIssuer:
    return LocalIssuer()


def test_valid_token_splits(issuer: LocalIssuer) -> None:
    """A well-formed token yields its alg, kid, signing input and signature."""
    token = issuer.mint()
    parsed = parse_token(token, algorithms=ALGS, max_size=16384)
    assert parsed.alg == "RS256"
    assert parsed.kid == issuer.kid
    assert parsed.signing_input == token.rsplit(".", 1)[0].encode()
    assert decode_payload(parsed)["iss"] == issuer.issuer


@pytest.mark.parametrize(
    "token",
    [
        "abc",
        "a.b",
        "a.b.c.d",
        "a.b.c.d.e",
        "a..c",
        "a.b.",
        ".b.c",
        "a.b.c=",
        "a+b.c.d",
        "a/b.c.d",
        "a.b.c\n",
        "é.b.c",
        "a.b.c ",
        "A.b.c",  # 1 char mod 4 cannot be base64
        f"{b64(b'not json')}.{b64(b'{}')}.{b64(b's')}",
        f"{b64(b'[1]')}.{b64(b'{}')}.{b64(b's')}",
        f"{b64(bytes([0xFF, 0xFE]))}.{b64(b'{}')}.{b64(b's')}",
        f"{b64(b'[' * 5000)}.{b64(b'{}')}.{b64(b's')}",
    ],
)
def test_malformed_tokens(token: str) -> None:
    """Anything but three non-empty base64url segments with a JSON object header is malformed."""
    with pytest.raises(InvalidToken) as info:
        parse_token(token, algorithms=ALGS, max_size=16384)
    assert info.value.reason == "malformed"


def test_size_cap_before_parsing() -> None:
    """An oversized token is refused before any decoding."""
    with pytest.raises(InvalidToken, match="too_large"):
        parse_token("a" * 20000, algorithms=ALGS, max_size=16384)


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        ({"alg": "none", "kid": "k"}, "bad_alg"),
        ({"alg": "None", "kid": "k"}, "bad_alg"),
        ({"alg": "HS256", "kid": "k"}, "bad_alg"),
        ({"alg": "ES256", "kid": "k"}, "bad_alg"),
        ({"kid": "k"}, "bad_alg"),
        ({"alg": ["RS256"], "kid": "k"}, "bad_alg"),
        ({"alg": "RS256", "kid": "k", "crit": ["exp"]}, "crit"),
        ({"alg": "RS256", "kid": "k", "typ": "dpop+jwt"}, "bad_typ"),
        ({"alg": "RS256", "kid": "k", "typ": 1}, "bad_typ"),
        ({"alg": "RS256"}, "bad_kid"),
        ({"alg": "RS256", "kid": ""}, "bad_kid"),
        ({"alg": "RS256", "kid": 7}, "bad_kid"),
        ({"alg": "RS256", "kid": "k" * 257}, "bad_kid"),
    ],
)
def test_header_rejections(header: dict[str, Any], reason: str) -> None:
    """Header checks: alg allow-list, crit, typ and kid."""
    with pytest.raises(InvalidToken) as info:
        parse_token(with_header(header), algorithms=ALGS, max_size=16384)
    assert info.value.reason == reason


def test_duplicate_header_members_rejected() -> None:
    """A header with 'alg' twice is rejected (RFC 7515 section 4)."""
    raw = b'{"kid":"k","alg":"RS256","alg":"none"}'
    token = f"{b64(raw)}.{b64(b'{}')}.{b64(b's')}"
    with pytest.raises(InvalidToken, match="duplicate"):
        parse_token(token, algorithms=ALGS, max_size=16384)


@pytest.mark.parametrize("typ", [None, "JWT", "jwt", "at+jwt", "AT+JWT", "application/at+jwt"])
def test_typ_default_profile(typ: str | None) -> None:
    """Without the strict switch, no typ, JWT and at+jwt are all accepted (Okta sends none)."""
    header: dict[str, Any] = {"alg": "RS256", "kid": "k"}
    if typ is not None:
        header["typ"] = typ
    parse_token(with_header(header), algorithms=ALGS, max_size=16384)


@pytest.mark.parametrize(("typ", "ok"), [(None, False), ("JWT", False), ("at+jwt", True)])
def test_typ_strict_profile(typ: str | None, ok: bool) -> None:
    """require_at_jwt accepts only at+jwt (RFC 9068 section 4)."""
    header: dict[str, Any] = {"alg": "RS256", "kid": "k", "typ": typ if typ else OMIT}
    header = {k: v for k, v in header.items() if v is not OMIT}
    token = with_header(header)
    if ok:
        parse_token(token, algorithms=ALGS, max_size=16384, require_at_jwt=True)
    else:
        with pytest.raises(InvalidToken, match="bad_typ"):
            parse_token(token, algorithms=ALGS, max_size=16384, require_at_jwt=True)


@pytest.mark.parametrize("payload", [b"not json", b"[1,2]", bytes([0xC3, 0x28]), b'"s"'])
def test_payload_must_be_a_utf8_json_object(issuer: LocalIssuer, payload: bytes) -> None:
    """A signed payload that is not a UTF-8 JSON object is malformed."""
    parsed = parse_token(issuer.sign(payload), algorithms=ALGS, max_size=16384)
    with pytest.raises(InvalidToken, match="malformed"):
        decode_payload(parsed)


_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def non_canonical(segment: str) -> str:
    """The same bytes spelled with non-zero spare bits in the last character."""
    assert len(segment) % 4 in (2, 3)
    return segment[:-1] + _ALPHABET[_ALPHABET.index(segment[-1]) + 1]


@pytest.mark.parametrize("part", [0, 1, 2], ids=["header", "payload", "signature"])
def test_non_canonical_base64url_is_malformed(issuer: LocalIssuer, part: int) -> None:
    """A segment whose unused low bits are not zero (RFC 4648 3.5) is refused, whatever part."""
    for extra in range(4):  # vary lengths until the segment has spare bits
        token = issuer.mint(pad="x" * extra)
        segments = token.split(".")
        if len(segments[part]) % 4 in (2, 3):
            break
    assert base64.urlsafe_b64decode(segments[part] + "==") == base64.urlsafe_b64decode(
        non_canonical(segments[part]) + "=="
    )
    segments[part] = non_canonical(segments[part])

    def parse_and_decode() -> None:
        decode_payload(parse_token(".".join(segments), algorithms=ALGS, max_size=16384))

    with pytest.raises(InvalidToken) as info:
        parse_and_decode()
    assert info.value.reason == "malformed"
