"""Compact JWS parsing and header checks (pure; no keys, no I/O).

The token is decoded exactly once: one C pass proves the whole string is
three base64url segments, then each segment is decoded with the C base64
codec.  The payload is only decoded after the signature is good,
so attacker-chosen JSON never reaches the parser unless an issuer signed it.

This is on every request's path, so the decoders are built once (``json.loads``
with a hook would build a new decoder per call) and JSON text must be UTF-8,
as RFC 7515 and RFC 7519 require (no UTF-16/32 guessing, no byte-order mark).
"""

from __future__ import annotations

import binascii
import json
from json.scanner import make_scanner
from typing import Any, NamedTuple, cast

from .._errors import InvalidToken

__all__ = ["ParsedToken", "decode_payload", "parse_token"]

# RFC 7515 section 7.1: BASE64URL(header) '.' BASE64URL(payload) '.' BASE64URL(sig),
# unpadded: the token is ASCII, and deleting the base64url alphabet from it must
# leave exactly two dots.  Five segments (JWE) and padding fail here.
_BASE64URL_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_TWO_DOTS = b".."
# Media types allowed in an explicit 'typ' (RFC 9068 section 4; RFC 8725 section 3.11).
_TYP_JWT = frozenset({"jwt", "application/jwt"})
_TYP_AT_JWT = frozenset({"at+jwt", "application/at+jwt"})
_TYP_ANY = _TYP_JWT | _TYP_AT_JWT
_MAX_KID = 256
_URLSAFE_TO_STANDARD = bytes.maketrans(b"-_", b"+/")


# RFC 4648 section 3.5: in canonical encoding the bits after the last full
# byte are zero.  With 2 characters left over (4 spare bits) the last one
# must be one of these; with 3 left over (2 spare bits), one of the second set.
CANONICAL_LAST = {
    2: frozenset(b"AQgw"),
    3: frozenset(b"AEIMQUYcgkosw048"),
}


def _b64decode_ascii(segment: bytes) -> bytes:
    # A length of 1 mod 4 can never be valid base64url.
    rest = len(segment) % 4
    if rest == 1:
        raise InvalidToken("malformed", "Token is not a valid JWS")
    # Non-canonical encodings (non-zero spare bits) decode to the same bytes as
    # the canonical one, so a token would have several spellings: refuse them.
    if rest and segment[-1] not in CANONICAL_LAST[rest]:
        raise InvalidToken("malformed", "Token is not a valid JWS")
    # The segment holds only the base64url alphabet, where this decodes exactly
    # as base64.urlsafe_b64decode does (surplus '=' padding is ignored), minus
    # its Python-level wrappers.
    return binascii.a2b_base64(segment.translate(_URLSAFE_TO_STANDARD) + b"==")


def _b64decode(segment: str) -> bytes:
    return _b64decode_ascii(segment.encode("ascii"))


def _reject_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # RFC 7515 section 4: header parameter names must be unique; a second 'alg'
    # could otherwise smuggle 'none' past a reader that keeps the first one.
    result = dict(pairs)
    if len(result) != len(pairs):
        raise InvalidToken("malformed", "Token header has duplicate members")
    return result


_HEADER_JSON = json.JSONDecoder(object_pairs_hook=_reject_duplicates)
_PAYLOAD_JSON = json.JSONDecoder()
# The decoders' C scanners, called directly when the text is one JSON value with
# no surrounding whitespace (as issuers write it); anything else takes the
# decoder's full path, so what is accepted does not change.
_HEADER_SCAN = make_scanner(cast(Any, _HEADER_JSON))
_PAYLOAD_SCAN = make_scanner(cast(Any, _PAYLOAD_JSON))


def _json_object(data: bytes, *, strict: bool) -> dict[str, Any]:
    decoder, scan = (_HEADER_JSON, _HEADER_SCAN) if strict else (_PAYLOAD_JSON, _PAYLOAD_SCAN)
    try:
        text = data.decode("utf-8")
        try:
            value, end = scan(text, 0)
        except StopIteration:
            end = -1
        if end != len(text):
            value = decoder.decode(text)
    except (ValueError, RecursionError) as exc:  # includes UnicodeDecodeError
        raise InvalidToken("malformed", "Token is not a valid JWS") from exc
    if not isinstance(value, dict):
        raise InvalidToken("malformed", "Token is not a valid JWS")
    return value


class ParsedToken(NamedTuple):
    """A token split and its header checked; the signature is not verified yet."""

    alg: str
    kid: str
    header: dict[str, Any]
    signing_input: bytes
    signature: bytes
    payload_segment: str


def parse_token(
    token: str,
    *,
    algorithms: frozenset[str],
    max_size: int,
    require_at_jwt: bool = False,
) -> ParsedToken:
    """Split a compact JWS and check its protected header.

    Raises:
        InvalidToken: for a token that is too large, not three base64url
            segments, has a header that is not a JSON object, an algorithm
            outside ``algorithms``, a ``crit`` member, a disallowed ``typ`` or
            no usable ``kid``.
    """
    # Size cap before any parsing or crypto: an oversized token costs nothing.
    if len(token) > max_size:
        raise InvalidToken("too_large", "Token is too large")
    try:
        raw = token.encode("ascii")
    except UnicodeEncodeError:
        raise InvalidToken("malformed", "Token is not a valid JWS") from None
    if raw.translate(None, _BASE64URL_ALPHABET) != _TWO_DOTS:
        raise InvalidToken("malformed", "Token is not a valid JWS")
    header_segment, payload_segment, signature_segment = raw.split(b".")
    if not header_segment or not payload_segment or not signature_segment:
        raise InvalidToken("malformed", "Token is not a valid JWS")
    try:
        header_bytes = _b64decode_ascii(header_segment)
        signature = _b64decode_ascii(signature_segment)
    except binascii.Error as exc:
        raise InvalidToken("malformed", "Token is not a valid JWS") from exc
    header = _json_object(header_bytes, strict=True)

    # RFC 8725 section 3.1: the allow-list is ours, never the token's.
    alg = header.get("alg")
    if not isinstance(alg, str) or alg not in algorithms:
        raise InvalidToken("bad_alg", "Token algorithm is not allowed")
    # RFC 7515 section 4.1.11: we implement no extensions, so any 'crit' fails.
    if "crit" in header:
        raise InvalidToken("crit", "Token has unsupported critical headers")
    typ = header.get("typ")
    if typ is not None:
        typ_l = typ.lower() if isinstance(typ, str) else None
        allowed = _TYP_AT_JWT if require_at_jwt else _TYP_ANY
        if typ_l not in allowed:
            raise InvalidToken("bad_typ", "Token type is not an access token")
    elif require_at_jwt:
        raise InvalidToken("bad_typ", "Token type is not an access token")
    # Keys are selected by 'kid' only; 'jku', 'x5u', 'jwk' and 'x5c' are never
    # read (RFC 8725 section 3.10).  Okta always sets 'kid'.
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid or len(kid) > _MAX_KID:
        raise InvalidToken("bad_kid", "Token has no usable key id")

    payload_start = len(header_segment) + 1
    payload_end = payload_start + len(payload_segment)
    return ParsedToken(
        alg, kid, header, raw[:payload_end], signature, token[payload_start:payload_end]
    )


def decode_payload(parsed: ParsedToken) -> dict[str, Any]:
    """Decode the (signature-verified) payload into a JSON object.

    Duplicate claim names are allowed and the last one wins, as RFC 7519
    section 4 permits; the issuer signed exactly these bytes.

    Raises:
        InvalidToken: when the payload is not a UTF-8 JSON object.
    """
    try:
        data = _b64decode(parsed.payload_segment)
    except ValueError as exc:  # binascii.Error, or a segment that is not ASCII
        raise InvalidToken("malformed", "Token is not a valid JWS") from exc
    return _json_object(data, strict=False)
