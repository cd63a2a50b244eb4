"""Compact JWS parsing and header checks (pure; no keys, no I/O).

The token is decoded exactly once: one regular-expression match proves the
whole string is three base64url segments, then each segment is decoded with
the C base64 codec.  The payload is only decoded after the signature is good,
so attacker-chosen JSON never reaches the parser unless an issuer signed it.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass
from typing import Any

from ._errors import InvalidToken

__all__ = ["ParsedToken", "decode_payload", "parse_token"]

# RFC 7515 section 7.1: BASE64URL(header) '.' BASE64URL(payload) '.' BASE64URL(sig),
# unpadded.  Five segments (JWE) and unsigned tokens (empty signature) fail here.
_COMPACT_JWS = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")
# Media types allowed in an explicit 'typ' (RFC 9068 section 4; RFC 8725 section 3.11).
_TYP_JWT = frozenset({"jwt", "application/jwt"})
_TYP_AT_JWT = frozenset({"at+jwt", "application/at+jwt"})
_MAX_KID = 256


def _b64decode(segment: str) -> bytes:
    # A length of 1 mod 4 can never be valid base64url.
    if len(segment) % 4 == 1:
        raise InvalidToken("malformed", "Token is not a valid JWS")
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def _reject_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # RFC 7515 section 4: header parameter names must be unique; a second 'alg'
    # could otherwise smuggle 'none' past a reader that keeps the first one.
    result = dict(pairs)
    if len(result) != len(pairs):
        raise InvalidToken("malformed", "Token header has duplicate members")
    return result


def _json_object(data: bytes, *, strict: bool) -> dict[str, Any]:
    try:
        value = json.loads(data, object_pairs_hook=_reject_duplicates if strict else None)
    except (ValueError, RecursionError) as exc:  # includes UnicodeDecodeError
        raise InvalidToken("malformed", "Token is not a valid JWS") from exc
    if not isinstance(value, dict):
        raise InvalidToken("malformed", "Token is not a valid JWS")
    return value


@dataclass(frozen=True, slots=True)
class ParsedToken:
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
    # Size cap before any parsing or crypto (behaviour catalog A.15).
    if len(token) > max_size:
        raise InvalidToken("too_large", "Token is too large")
    if _COMPACT_JWS.fullmatch(token) is None:
        raise InvalidToken("malformed", "Token is not a valid JWS")
    header_segment, payload_segment, signature_segment = token.split(".")
    try:
        header_bytes = _b64decode(header_segment)
        signature = _b64decode(signature_segment)
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
        allowed = _TYP_AT_JWT if require_at_jwt else _TYP_JWT | _TYP_AT_JWT
        if typ_l not in allowed:
            raise InvalidToken("bad_typ", "Token type is not an access token")
    elif require_at_jwt:
        raise InvalidToken("bad_typ", "Token type is not an access token")
    # Keys are selected by 'kid' only; 'jku', 'x5u', 'jwk' and 'x5c' are never
    # read (RFC 8725 section 3.10).  Okta always sets 'kid'.
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid or len(kid) > _MAX_KID:
        raise InvalidToken("bad_kid", "Token has no usable key id")

    signing_input = token[: len(header_segment) + 1 + len(payload_segment)].encode("ascii")
    return ParsedToken(alg, kid, header, signing_input, signature, payload_segment)


def decode_payload(parsed: ParsedToken) -> dict[str, Any]:
    """Decode the (signature-verified) payload into a JSON object.

    Duplicate claim names are allowed and the last one wins, as RFC 7519
    section 4 permits; the issuer signed exactly these bytes.

    Raises:
        InvalidToken: when the payload is not a UTF-8 JSON object.
    """
    try:
        data = _b64decode(parsed.payload_segment)
    except binascii.Error as exc:
        raise InvalidToken("malformed", "Token is not a valid JWS") from exc
    return _json_object(data, strict=False)
