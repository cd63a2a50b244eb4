"""Property tests of the compact-JWS parser: structure, header checks and payload decoding."""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
from typing import Any

from hypothesis import assume, given
from hypothesis import strategies as st

from okta_bearer import BearerError, InvalidToken
from okta_bearer._jwt.jws import (
    HEADER_MEMO_SIZE,
    HeaderMemo,
    ParsedToken,
    decode_payload,
    parse_token,
)

from ._profiles import fuzz_settings

ALGORITHMS = frozenset({"RS256", "ES256"})
MAX_SIZE = 4096
B64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def b64(data: bytes) -> str:
    """Unpadded base64url."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64(segment: str) -> bytes:
    """Decode unpadded base64url (the reference decoder of these tests)."""
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def same_json(a: object, b: object) -> bool:
    """Equality that also holds for NaN members (JSON's ``NaN`` literal)."""
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner),
    max_leaves=8,
)
broad_headers = st.fixed_dictionaries(
    {},
    optional={
        "alg": st.sampled_from(["RS256", "ES256", "PS256", "none", "HS256", "rs256"]) | json_values,
        "kid": st.text(min_size=0, max_size=300) | json_values,
        "typ": st.sampled_from(["JWT", "jwt", "at+jwt", "application/at+JWT", "dpop+jwt"])
        | json_values,
        "crit": json_values,
        "jku": st.text(max_size=30),
        "x5c": json_values,
    },
)
#: Falsy and near-miss values: the ones a truthiness bug would let through.
edge_values: st.SearchStrategy[Any] = st.sampled_from(
    [None, False, 0, "", [], {}, "none", "RS256 ", "k" * 256, "k" * 257, "AT+JWT", "JWT "]
)


@st.composite
def near_valid_headers(draw: st.DrawFn) -> dict[str, Any]:
    """A valid header with one or two members dropped or replaced."""
    header: dict[str, Any] = {"alg": draw(st.sampled_from(sorted(ALGORITHMS))), "kid": "k1"}
    if draw(st.booleans()):
        header["typ"] = draw(st.sampled_from(["JWT", "at+jwt", "application/AT+JWT"]))
    names = ["alg", "kid", "typ", "crit", "jku", "x5u", "jwk", "cty"]
    for name in draw(st.lists(st.sampled_from(names), min_size=1, max_size=2, unique=True)):
        if draw(st.booleans()) and name in header:
            del header[name]
        else:
            header[name] = draw(edge_values | json_values)
    return header


headers = near_valid_headers() | broad_headers


def header_is_acceptable(header: dict[str, Any], *, require_at_jwt: bool) -> bool:
    """The header rules, as RFC 8725 / RFC 7515 / RFC 9068 state them (the oracle)."""
    alg, kid, typ = header.get("alg"), header.get("kid"), header.get("typ")
    if not (isinstance(alg, str) and alg in ALGORITHMS):
        return False
    if "crit" in header:
        return False
    if typ is None:
        if require_at_jwt:
            return False
    else:
        if not isinstance(typ, str):
            return False
        allowed = {"at+jwt", "application/at+jwt"}
        if not require_at_jwt:
            allowed |= {"jwt", "application/jwt"}
        if typ.lower() not in allowed:
            return False
    return isinstance(kid, str) and 0 < len(kid) <= 256


@fuzz_settings()
@given(st.text(max_size=600))
def test_arbitrary_text_raises_only_bearer_errors(token: str) -> None:
    """Any string is parsed or refused with an InvalidToken; nothing else is raised."""
    try:
        parsed = parse_token(token, algorithms=ALGORITHMS, max_size=MAX_SIZE)
    except InvalidToken:
        return
    assert token.count(".") == 2
    assert parsed.signing_input == token.rsplit(".", 1)[0].encode()


@fuzz_settings()
@given(st.lists(st.text(B64URL + "=+/ ", max_size=120), min_size=1, max_size=6).map(".".join))
def test_base64url_shaped_text_raises_only_bearer_errors(token: str) -> None:
    """Dot-joined base64url-ish segments (right alphabet, wrong shape) never crash the parser."""
    with contextlib.suppress(BearerError):
        parse_token(token, algorithms=ALGORITHMS, max_size=MAX_SIZE)


@fuzz_settings()
@given(headers, st.binary(max_size=64), st.binary(min_size=1, max_size=64), st.booleans())
def test_header_is_accepted_exactly_when_the_rules_allow(
    header: dict[str, Any], payload: bytes, signature: bytes, strict: bool
) -> None:
    """parse_token accepts a header if and only if the RFC-derived oracle does."""
    token = f"{b64(json.dumps(header).encode())}.{b64(payload or b'{}')}.{b64(signature)}"
    assume(len(token) <= MAX_SIZE)
    expected = header_is_acceptable(header, require_at_jwt=strict)
    try:
        parsed = parse_token(token, algorithms=ALGORITHMS, max_size=MAX_SIZE, require_at_jwt=strict)
    except InvalidToken:
        assert not expected, header
        return
    assert expected, header
    assert parsed.alg == header["alg"]
    assert parsed.kid == header["kid"]
    assert parsed.signature == signature


_MEMO: HeaderMemo = {}


@fuzz_settings()
@given(st.lists(st.tuples(headers, st.booleans()), min_size=1, max_size=8))
def test_a_header_memo_never_changes_an_answer(cases: list[tuple[dict[str, Any], bool]]) -> None:
    """With a memo shared across calls, each token gets what it gets without one."""
    for header, twice in cases:
        token = f"{b64(json.dumps(header).encode())}.e30.c2ln"
        for _ in range(2 if twice else 1):
            try:
                expected: object = parse_token(token, algorithms=ALGORITHMS, max_size=MAX_SIZE)
            except InvalidToken as exc:
                expected = exc.reason
            try:
                got: object = parse_token(
                    token, algorithms=ALGORITHMS, max_size=MAX_SIZE, memo=_MEMO
                )
            except InvalidToken as exc:
                got = exc.reason
            assert got == expected
    assert len(_MEMO) <= HEADER_MEMO_SIZE


def test_the_header_memo_keeps_only_accepted_headers_and_stays_bounded() -> None:
    """Refused headers are never remembered, and the memo never outgrows its size."""
    memo: HeaderMemo = {}
    bad = b64(json.dumps({"alg": "none", "kid": "k"}).encode())
    with contextlib.suppress(InvalidToken):
        parse_token(f"{bad}.e30.c2ln", algorithms=ALGORITHMS, max_size=MAX_SIZE, memo=memo)
    assert memo == {}
    for i in range(HEADER_MEMO_SIZE * 2 + 3):
        head = b64(json.dumps({"alg": "RS256", "kid": f"k{i}"}).encode())
        parsed = parse_token(
            f"{head}.e30.c2ln", algorithms=ALGORITHMS, max_size=MAX_SIZE, memo=memo
        )
        assert parsed.kid == f"k{i}"
        assert 0 < len(memo) <= HEADER_MEMO_SIZE


@fuzz_settings()
@given(st.binary(max_size=300))
def test_raw_header_bytes_never_crash(raw: bytes) -> None:
    """Any bytes as the protected header (bad UTF-8, bad JSON, non-objects) give InvalidToken."""
    token = f"{b64(raw)}.e30.c2ln" if raw else "A.e30.c2ln"
    try:
        parsed = parse_token(token, algorithms=ALGORITHMS, max_size=MAX_SIZE)
    except InvalidToken:
        return
    assert parsed.alg in ALGORITHMS


@fuzz_settings()
@given(st.binary(max_size=400) | json_values.map(lambda v: json.dumps(v).encode()))
def test_decode_payload_yields_the_json_object_or_invalid_token(raw: bytes) -> None:
    """decode_payload returns exactly the JSON object the bytes hold, else InvalidToken."""
    segment = b64(raw) if raw else ""
    parsed = ParsedToken("RS256", "k", b"", b"", segment.encode())
    try:
        payload = decode_payload(parsed)
    except InvalidToken:
        try:
            reference = json.loads(raw.decode("utf-8"))
        except (ValueError, RecursionError):
            return
        assert not isinstance(reference, dict)
        return
    assert same_json(payload, json.loads(raw))


@fuzz_settings()
@given(st.text(B64URL, max_size=200))
def test_decode_payload_of_any_base64url_segment(segment: str) -> None:
    """Any base64url segment decodes to a dict or raises InvalidToken, never binascii errors."""
    parsed = ParsedToken("RS256", "k", b"", b"", segment.encode())
    try:
        payload = decode_payload(parsed)
    except InvalidToken:
        return
    try:
        reference = unb64(segment)
    except binascii.Error:  # pragma: no cover - the decoder accepted what this refuses
        raise AssertionError(segment) from None
    assert same_json(payload, json.loads(reference))
