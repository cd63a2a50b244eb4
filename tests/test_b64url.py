"""Strict unpadded base64url: one spelling per value, for tokens and DPoP proofs alike."""

from __future__ import annotations

import base64
import binascii
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from okta_bearer import InvalidToken, TokenVerifier
from okta_bearer._jwt import b64url
from okta_bearer.testing import LocalIssuer

from .fuzz._profiles import fuzz_settings

_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def canonical(segment: bytes) -> bool:
    """The RFC 7515 section 2 / RFC 4648 section 3.5 oracle, written independently."""
    if not segment or re.fullmatch(rb"[A-Za-z0-9_-]+", segment) is None:
        return False
    if len(segment) % 4 == 1:
        return False
    padded = segment + b"=" * (-len(segment) % 4)
    # Canonical: encoding the decoded bytes again gives the same text.
    return base64.urlsafe_b64encode(base64.urlsafe_b64decode(padded)) == padded


@pytest.mark.parametrize(
    "segment",
    [b"", b"Q", b"QQ==", b"QQ=", b"Q+", b"Q/", b"QQ\n", b" QQ", b"Q.Q", b"QR", b"QUK", b"\xffQQ"],
)
def test_anything_but_canonical_unpadded_base64url_is_refused(segment: bytes) -> None:
    """Padding, the standard alphabet's + and /, whitespace, dots and spare bits are refused."""
    with pytest.raises(binascii.Error):
        b64url.decode(segment)


@pytest.mark.parametrize(
    ("segment", "value"), [(b"QQ", b"A"), (b"QUI", b"AB"), (b"-_8", b"\xfb\xff")]
)
def test_canonical_segments_decode(segment: bytes, value: bytes) -> None:
    """Canonical segments of every length modulo 4 decode to their bytes, - and _ included."""
    assert b64url.decode(segment) == value


@fuzz_settings()
@given(st.binary(max_size=40) | st.text(_ALPHABET + "=+/ .\n", max_size=40).map(str.encode))
def test_decode_accepts_exactly_what_the_oracle_accepts(segment: bytes) -> None:
    """decode() accepts a segment if and only if it is canonical, and then decodes it exactly."""
    try:
        value = b64url.decode(segment)
    except ValueError:
        assert not canonical(segment)
        return
    assert canonical(segment)
    assert value == base64.urlsafe_b64decode(segment + b"=" * (-len(segment) % 4))


def test_a_payload_segment_that_is_not_base64url_is_refused() -> None:
    """Junk in the payload segment is refused: by the signature when an attacker adds it,
    as malformed when the issuer signed it."""
    issuer = LocalIssuer()
    verifier: TokenVerifier = issuer.verifier(token_cache_size=0)
    head, body, signature = issuer.mint().split(".")
    for junk in (f"{body[:5]} {body[5:]}", f"{body}=", f"{body[:5]}+{body[5:]}"):
        with pytest.raises(InvalidToken) as info:
            verifier.verify_sync(f"{head}.{junk}.{signature}")
        assert info.value.reason == "bad_signature"
    signing_input = f"{head}.{body[:5]}+{body[5:]}"
    signed = base64.urlsafe_b64encode(issuer.signing_key.sign(signing_input.encode()))
    with pytest.raises(InvalidToken) as info:
        verifier.verify_sync(f"{signing_input}.{signed.rstrip(b'=').decode()}")
    assert info.value.reason == "malformed"
    verifier.close()
