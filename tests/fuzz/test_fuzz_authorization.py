"""Property tests of the ``Authorization`` header parser (RFC 6750 section 2.1)."""

from __future__ import annotations

import contextlib
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from okta_bearer import BearerError, InvalidRequest
from okta_bearer._http.rfc6750 import parse_authorization

from ._profiles import fuzz_settings

B64TOKEN = re.compile(r"[A-Za-z0-9\-._~+/]+=*")
B64_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~+/"

b64tokens = st.builds(
    lambda body, pad: body + "=" * pad, st.text(B64_CHARS, min_size=1), st.integers(0, 3)
)
schemes = st.sampled_from(["Bearer", "bearer", "BEARER", "bEaReR"])
near_headers = st.one_of(
    st.binary(max_size=300),
    st.text(max_size=300).map(str.encode),
    st.builds(
        lambda scheme, gap, body: f"{scheme}{gap}{body}".encode(),
        schemes | st.text(max_size=10),
        st.text(" \t", max_size=3),
        st.text(B64_CHARS + "= \t,;\"'\\\x00\r\n\x7f", max_size=120),
    ),
)


@fuzz_settings()
@given(st.lists(st.binary(max_size=400), max_size=4))
def test_arbitrary_bytes_raise_only_bearer_errors(values: list[bytes]) -> None:
    """Any header bytes give a token, None, or a BearerError; nothing else is raised."""
    with contextlib.suppress(BearerError):
        parse_authorization(values)


@fuzz_settings()
@given(near_headers)
def test_a_returned_token_is_a_b64token_sent_with_the_bearer_scheme(value: bytes) -> None:
    """A token is returned only for ``Bearer`` + SP + b64token, and it is that b64token."""
    try:
        token = parse_authorization([value])
    except InvalidRequest:
        return
    if token is None:
        text = value.decode("ascii")
        assert text.partition(" ")[0].lower() != "bearer"
        return
    text = value.decode("ascii")
    scheme, _, rest = text.partition(" ")
    assert scheme.lower() == "bearer"
    assert B64TOKEN.fullmatch(token)
    assert rest.strip(" \t") == token


@fuzz_settings()
@given(schemes, st.integers(1, 4), b64tokens, st.text(" \t", max_size=2))
def test_every_well_formed_header_yields_its_token(
    scheme: str, spaces: int, token: str, trailer: str
) -> None:
    """Any scheme case, any number of spaces, trailing blanks: the b64token comes back intact."""
    value = f"{scheme}{' ' * spaces}{token}{trailer}".encode()
    assert parse_authorization([value]) == token


@fuzz_settings()
@given(st.lists(st.binary(max_size=50), min_size=2, max_size=5))
def test_two_or_more_headers_are_always_a_bad_request(values: list[bytes]) -> None:
    """Several Authorization headers are refused whatever they hold (never one picked)."""
    with pytest.raises(InvalidRequest):
        parse_authorization(values)


@fuzz_settings()
@given(st.binary(max_size=100).filter(lambda b: any(byte > 0x7F for byte in b)))
def test_non_ascii_headers_are_a_bad_request(value: bytes) -> None:
    """Bytes outside ASCII anywhere in the header value are refused as malformed."""
    with pytest.raises(InvalidRequest):
        parse_authorization([b"Bearer " + value])
