"""Compact JWS parsing and header checks (pure; no keys, no I/O).

The token is split at its two dots (``bytes.find``, memchr) and each segment
decoded once by :func:`okta_bearer._jwt.b64url.decode`, which refuses
anything but canonical unpadded base64url in the same C pass that decodes.
The payload is only decoded after the signature is good, so attacker-chosen
JSON never reaches the parser unless an issuer signed it; a payload segment
that is not base64url changes the signing input, so the signature refuses it
first (and an issuer-signed one is refused as malformed when decoded).

This is on every request's path, so the decoders are built once (``json.loads``
with a hook would build a new decoder per call) and JSON text must be UTF-8,
as RFC 7515 and RFC 7519 require (no UTF-16/32 guessing, no byte-order mark).
"""

from __future__ import annotations

import json
from json.scanner import make_scanner
from typing import Any, NamedTuple, cast

from .._errors import InvalidToken
from . import b64url

__all__ = ["HEADER_MEMO_SIZE", "HeaderMemo", "ParsedToken", "decode_payload", "parse_token"]

# Media types allowed in an explicit 'typ' (RFC 9068 section 4; RFC 8725 section 3.11).
_TYP_JWT = frozenset({"jwt", "application/jwt"})
_TYP_AT_JWT = frozenset({"at+jwt", "application/at+jwt"})
_TYP_ANY = _TYP_JWT | _TYP_AT_JWT
_MAX_KID = 256


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
    signing_input: bytes
    signature: bytes
    payload_segment: bytes


#: Checked protected headers by their exact segment, as ``(alg, kid)``.  Every
#: token a key signs carries the same header, so a verifier keeps one memo and
#: decodes and checks each header once instead of per token.  Only headers that
#: passed every check are kept; a memo must only serve calls with the same
#: ``algorithms`` and ``require_at_jwt``.  It is emptied when it reaches
#: :data:`HEADER_MEMO_SIZE` entries, so headers an attacker varies cost memory
#: bounded by that size and time no worse than without it.  A plain ``dict``:
#: one ``get`` and one store, each atomic for threads.
HeaderMemo = dict[bytes, tuple[str, str]]
HEADER_MEMO_SIZE = 256


def parse_token(
    token: str,
    *,
    algorithms: frozenset[str],
    max_size: int,
    require_at_jwt: bool = False,
    memo: HeaderMemo | None = None,
) -> ParsedToken:
    """Split a compact JWS and check its protected header.

    ``memo`` (see :data:`HeaderMemo`) skips decoding a header checked before.

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
    # RFC 7515 section 7.1: BASE64URL(header) '.' BASE64URL(payload) '.'
    # BASE64URL(signature).  A third dot lands in the signature segment, where
    # strict decoding refuses it, as it refuses empty segments and padding.
    first = raw.find(b".")
    second = raw.find(b".", first + 1)
    if first < 0 or second < 0:
        raise InvalidToken("malformed", "Token is not a valid JWS")
    payload_segment = raw[first + 1 : second]
    try:
        signature = b64url.decode(raw[second + 1 :])
    except ValueError as exc:
        raise InvalidToken("malformed", "Token is not a valid JWS") from exc
    if not payload_segment:
        raise InvalidToken("malformed", "Token is not a valid JWS")
    head = raw[:first]
    checked = None if memo is None else memo.get(head)
    if checked is None:
        checked = _check_header(head, algorithms, require_at_jwt)
        if memo is not None:
            if len(memo) >= HEADER_MEMO_SIZE:
                memo.clear()
            memo[head] = checked
    return ParsedToken(checked[0], checked[1], raw[:second], signature, payload_segment)


def _check_header(
    segment: bytes, algorithms: frozenset[str], require_at_jwt: bool
) -> tuple[str, str]:
    """The ``(alg, kid)`` of an acceptable protected header segment."""
    try:
        header_bytes = b64url.decode(segment)
    except ValueError as exc:
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
    return alg, kid


def decode_payload(parsed: ParsedToken) -> dict[str, Any]:
    """Decode the (signature-verified) payload into a JSON object.

    Duplicate claim names are allowed and the last one wins, as RFC 7519
    section 4 permits; the issuer signed exactly these bytes.

    Raises:
        InvalidToken: when the payload is not a UTF-8 JSON object.
    """
    try:
        data = b64url.decode(parsed.payload_segment)
    except ValueError as exc:  # binascii.Error
        raise InvalidToken("malformed", "Token is not a valid JWS") from exc
    return _json_object(data, strict=False)
