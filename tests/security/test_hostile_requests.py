"""Hostile requests through BearerAuthMiddleware, one table row per attack.

Each row names a request an attacker (or a broken client, or a broken issuer)
could send, and the exact answer: the HTTP status and the ``error`` of the
``WWW-Authenticate`` challenge (``None`` for a bare ``Bearer`` challenge, or for
no challenge on a 200).  Every row also proves that the response and the
library's log carry no token material, exception text or stack trace, and that
the verifier fetched nothing but the trusted issuer's own documents.

A few rows are positive controls (200): they show the harness accepts what is
genuinely valid, so a 401 elsewhere is the attack being refused and not the
harness being broken.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from jwt.algorithms import get_default_algorithms

from okta_bearer.testing import OMIT

from ..web_drivers import DRIVERS
from ._world import (
    ATTACKER_URL,
    ISSUER,
    ISSUER_HOST,
    NOW,
    World,
    api_client,
    assert_no_leak,
    b64,
    capture_library_logs,
    challenge_error,
    compact,
    sign_raw,
)

OK, BAD_REQUEST, UNAUTHORIZED, FORBIDDEN = 200, 400, 401, 403
INVALID_TOKEN, INVALID_REQUEST, INSUFFICIENT_SCOPE = (
    "invalid_token",
    "invalid_request",
    "insufficient_scope",
)
#: The order n of P-256: r = s = n is as invalid as r = s = 0 (CVE-2022-21449).
P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
MEGABYTE = 1024 * 1024


@dataclass
class Req:
    """What the attacker sends: raw header pairs, a query string, and what must not leak."""

    headers: list[tuple[bytes, bytes]]
    secrets: list[str] = field(default_factory=list)
    query: str = ""


@dataclass(frozen=True)
class Case:
    """One row: a request builder and the exact expected answer."""

    id: str
    build: Callable[[World], Req]
    status: int
    error: str | None
    options: Mapping[str, Any] = field(default_factory=dict)


def bearer(token: str, *, scheme: str = "Bearer", sep: str = " ") -> Req:
    """An ``Authorization: <scheme><sep><token>`` request."""
    return Req([(b"authorization", f"{scheme}{sep}{token}".encode())], [token])


def header_value(value: bytes, *secrets: str) -> Req:
    """A request with exactly this raw ``Authorization`` value."""
    return Req([(b"authorization", value)], list(secrets))


def forged(header: dict[str, Any] | bytes, payload: dict[str, Any] | bytes, sig: bytes) -> Req:
    """A bearer request with a hand-assembled compact JWS."""
    return bearer(compact(header, payload, sig))


def signed(w: World, header: dict[str, Any] | bytes, payload: dict[str, Any] | bytes) -> Req:
    """A bearer request signed by the trusted RS256 key over exactly these bytes."""
    return bearer(sign_raw(w.rsa, header, payload))


def rsa_header(w: World, **extra: Any) -> dict[str, Any]:
    """The header Okta sends (``alg``, ``kid``), plus ``extra`` members."""
    return {"alg": "RS256", "kid": w.rsa.kid, **extra}


def claims_json(w: World, **overrides: Any) -> bytes:
    """Valid claims as JSON bytes."""
    return json.dumps(w.claims(**overrides)).encode()


def with_member(w: World, member: str | bytes) -> bytes:
    """Valid claims with one raw JSON member spliced in before the closing brace."""
    raw = member if isinstance(member, bytes) else member.encode()
    return claims_json(w)[:-1] + b", " + raw + b"}"


def hmac_token(w: World, alg: str, secret: bytes, kid: str | None = None) -> Req:
    """A token 'signed' with HMAC, using ``secret`` (public key material) as the key."""
    digest = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}[alg]
    head = b64(json.dumps({"alg": alg, "kid": kid or w.rsa.kid}).encode())
    body = b64(claims_json(w))
    signing_input = f"{head}.{body}"
    mac = hmac.new(secret, signing_input.encode(), digest).digest()
    return bearer(f"{signing_input}.{b64(mac)}")


def public_pem(w: World, fmt: serialization.PublicFormat) -> bytes:
    """The trusted RSA public key as PEM (what an HS/RS confusion attack uses)."""
    public = w.rsa.private_key.public_key()
    return public.public_bytes(serialization.Encoding.PEM, fmt)  # type: ignore[no-any-return]


def ec_raw_sig(w: World, header: dict[str, Any], sig: bytes) -> Req:
    """An ES256 token with valid claims and an arbitrary signature."""
    return forged(header, w.claims(), sig)


def der_signed_es256(w: World) -> Req:
    """An ES256 token whose signature is DER-encoded instead of raw r||s (RFC 7518 3.4)."""
    header = {"alg": "ES256", "kid": w.ec.kid}
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(claims_json(w))}"
    der = w.ec.private_key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256()))
    return bearer(f"{signing_input}.{b64(der)}")


def pss_signed(w: World) -> Req:
    """A PS256 token signed with the trusted RSA key, whose JWK pins ``alg: RS256``."""
    header = {"alg": "PS256", "kid": w.rsa.kid}
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(claims_json(w))}"
    sig = get_default_algorithms()["PS256"].sign(signing_input.encode(), w.rsa.private_key)
    return bearer(f"{signing_input}.{b64(sig)}")


def transplant_signature(w: World) -> Req:
    """Claims of one token under the signature of another (valid) token."""
    donor = w.token(sub="bob@example.com")
    victim = w.token(scp=["items:read", "admin"])
    head, body, _ = victim.split(".")
    token = f"{head}.{body}.{donor.split('.')[2]}"
    return Req([(b"authorization", f"Bearer {token}".encode())], [token, donor, victim])


def transplant_header(w: World) -> Req:
    """An ES256 header moved onto an RS256-signed payload and signature."""
    es = w.issuer.sign(w.claims(), key=w.ec)
    rs = w.token()
    token = f"{es.split('.')[0]}.{rs.split('.', 1)[1]}"
    return Req([(b"authorization", f"Bearer {token}".encode())], [token, es, rs])


def strip_signature(w: World) -> Req:
    """A valid token with its signature removed (``header.payload.``)."""
    token = w.token()
    return bearer(token.rsplit(".", 1)[0] + ".")


def truncate_signature(w: World) -> Req:
    """A valid token whose signature lost its last four characters."""
    token = w.token()
    return Req([(b"authorization", f"Bearer {token[:-4]}".encode())], [token[:-4], token])


def tamper_payload(w: World) -> Req:
    """A valid signature over claims that were edited afterwards (scope escalation)."""
    token = w.token()
    head, _, sig = token.split(".")
    body = b64(claims_json(w, scp=["items:read", "admin"]))
    return bearer(f"{head}.{body}.{sig}")


def attacker_signed(
    w: World, header: dict[str, Any], *, ec_key: bool = False, **claims: Any
) -> Req:
    """A token with valid-looking claims signed by the attacker's own key."""
    key = w.attacker_ec if ec_key else w.attacker
    return bearer(sign_raw(key, header, w.claims(**claims)))


def alg_spelled(alg: str) -> Callable[[World], Req]:
    """A builder for a token whose ``alg`` is ``alg``, with a one-byte signature."""
    return lambda w: forged({"alg": alg, "kid": w.rsa.kid}, w.claims(), b"\x00")


def nested(depth: int) -> str:
    """A JSON array nested ``depth`` levels deep."""
    return "[" * depth + "]" * depth


def query_and_header(w: World) -> Req:
    """A valid token in the header and again in the ``access_token`` query parameter."""
    token = w.token()
    req = bearer(token)
    req.query = f"access_token={token}"
    return req


def query_only(w: World) -> Req:
    """A valid token only in the query string, which is never a token source."""
    token = w.token()
    return Req([], [token], query=f"access_token={token}")


def two_headers(first: bytes, second: bytes, *secrets: str) -> Req:
    """Two ``Authorization`` headers."""
    return Req([(b"authorization", first), (b"authorization", second)], list(secrets))


def two_valid_headers(w: World) -> Req:
    """Two headers each carrying a valid token."""
    a, b = w.token(), w.token(sub="bob@example.com")
    return two_headers(f"Bearer {a}".encode(), f"Bearer {b}".encode(), a, b)


def basic_then_bearer(w: World) -> Req:
    """A Basic header next to a Bearer header."""
    token = w.token()
    return two_headers(b"Basic dXNlcjpwYXNz", f"Bearer {token}".encode(), token)


def valid_with(w: World, text: str, *, before: str = "Bearer ") -> Req:
    """A valid token with ``text`` around it inside the header value."""
    token = w.token()
    return Req([(b"authorization", f"{before}{token}{text}".encode())], [token])


def bytes_around(w: World, prefix: bytes, suffix: bytes) -> Req:
    """A valid token framed by raw bytes."""
    token = w.token()
    return Req([(b"authorization", prefix + token.encode() + suffix)], [token])


def id_token(w: World, **claims: Any) -> Req:
    """An ID token from the trusted issuer, signed by its key, presented as an access token."""
    token = w.issuer.sign(
        {
            "ver": 1,
            "iss": ISSUER,
            "aud": w.issuer.client_id,
            "sub": "00u1testuser",
            "iat": NOW,
            "exp": NOW + 3600,
            "auth_time": NOW,
            "nonce": "n-0S6_WzA2Mj",
            "amr": ["pwd"],
            **claims,
        },
        key=w.rsa,
    )
    return bearer(token)


def twin_signed(w: World, **claims: Any) -> Req:
    """A token from another issuer whose key shares the trusted key's ``kid``."""
    other = w.other_issuer
    payload = other.claims(**claims)
    return bearer(other.sign(payload, key=w.twin))


def x5c_header(w: World, kid: str) -> dict[str, Any]:
    """A header carrying the attacker's self-signed certificate chain."""
    return {"alg": "RS256", "kid": kid, "x5c": [b64(w.x5c_der)]}


def jwk_header(w: World, kid: str | None) -> dict[str, Any]:
    """A header embedding the attacker's public key as ``jwk``."""
    header: dict[str, Any] = {"alg": "RS256", "jwk": w.attacker.public_jwk}
    if kid is not None:
        header["kid"] = kid
    return header


def kid_token(w: World, kid: Any) -> Req:
    """A token whose header ``kid`` is ``kid``, signed by the attacker."""
    return attacker_signed(w, {"alg": "RS256", "kid": kid})


HEADER_FORMS = [
    Case("no-authorization-header", lambda w: Req([]), UNAUTHORIZED, None),
    Case("basic-scheme", lambda w: header_value(b"Basic dXNlcjpwYXNz"), UNAUTHORIZED, None),
    Case("token-scheme", lambda w: header_value(b"Token abc123"), UNAUTHORIZED, None),
    Case(
        "mac-scheme",
        lambda w: header_value(b'MAC id="h480djs93hd8", nonce="264095:dj83hs9s"'),
        UNAUTHORIZED,
        None,
    ),
    Case("digest-scheme", lambda w: header_value(b'Digest username="a"'), UNAUTHORIZED, None),
    Case("dpop-scheme", lambda w: bearer(w.token(), scheme="DPoP"), UNAUTHORIZED, None),
    Case("basic-carrying-a-valid-jwt", lambda w: bearer(w.token(), scheme="Basic"), 401, None),
    Case("empty-header-value", lambda w: header_value(b""), UNAUTHORIZED, None),
    Case("bearer-without-token", lambda w: header_value(b"Bearer"), BAD_REQUEST, INVALID_REQUEST),
    Case("bearer-space-only", lambda w: header_value(b"Bearer "), BAD_REQUEST, INVALID_REQUEST),
    Case("bearer-blanks-only", lambda w: header_value(b"Bearer \t  "), 400, INVALID_REQUEST),
    Case(
        "quotes-in-token",
        lambda w: header_value(b'Bearer an"invalid"token'),
        BAD_REQUEST,
        INVALID_REQUEST,
    ),
    Case("space-inside-token", lambda w: valid_with(w, " extra"), 400, INVALID_REQUEST),
    Case("comma-after-token", lambda w: valid_with(w, ",x"), BAD_REQUEST, INVALID_REQUEST),
    Case("semicolon-after-token", lambda w: valid_with(w, ";"), BAD_REQUEST, INVALID_REQUEST),
    Case("nul-byte-in-token", lambda w: valid_with(w, "\x00"), BAD_REQUEST, INVALID_REQUEST),
    Case("crlf-injection", lambda w: valid_with(w, "\r\nX-Admin: 1"), 400, INVALID_REQUEST),
    Case(
        "non-ascii-utf8-token",
        lambda w: bytes_around(w, b"Bearer \xc3\xa9", b""),
        400,
        "invalid_request",
    ),
    Case(
        "non-ascii-latin1-token",
        lambda w: bytes_around(w, b"Bearer ", b"\xff"),
        400,
        "invalid_request",
    ),
    Case("non-ascii-scheme", lambda w: bytes_around(w, b"B\xe9arer ", b""), 400, INVALID_REQUEST),
    # Only SP separates scheme and credentials (RFC 9110 section 11.4): with a
    # tab the whole value is one unknown scheme, i.e. no bearer credentials.
    Case("tab-after-scheme", lambda w: bearer(w.token(), sep="\t"), UNAUTHORIZED, None),
    Case("two-valid-headers", two_valid_headers, BAD_REQUEST, INVALID_REQUEST),
    Case("basic-and-bearer-headers", basic_then_bearer, BAD_REQUEST, INVALID_REQUEST),
    Case("two-empty-headers", lambda w: two_headers(b"", b""), BAD_REQUEST, INVALID_REQUEST),
    Case("token-in-query-string-only", query_only, UNAUTHORIZED, None),
    Case("token-in-query-and-header", query_and_header, BAD_REQUEST, INVALID_REQUEST),
    Case(
        "megabyte-bearer-token",
        lambda w: header_value(b"Bearer " + b"A" * MEGABYTE),
        UNAUTHORIZED,
        INVALID_TOKEN,
    ),
    Case(
        "megabyte-jws-shaped-token",
        lambda w: header_value(b"Bearer " + b".".join([b"e" * (MEGABYTE // 3)] * 3)),
        UNAUTHORIZED,
        INVALID_TOKEN,
    ),
    Case(
        "megabyte-basic-credentials",
        lambda w: header_value(b"Basic " + b"A" * MEGABYTE),
        UNAUTHORIZED,
        None,
    ),
    Case(
        "megabyte-non-ascii-header",
        lambda w: header_value(b"Bearer " + b"\xe9" * MEGABYTE),
        BAD_REQUEST,
        INVALID_REQUEST,
    ),
    Case("trailing-padding-on-token", lambda w: valid_with(w, "=="), 401, INVALID_TOKEN),
    # Positive controls: the scheme is case-insensitive and 1*SP may separate it.
    Case("control-lowercase-scheme", lambda w: bearer(w.token(), scheme="bearer"), OK, None),
    Case("control-uppercase-scheme", lambda w: bearer(w.token(), scheme="BEARER"), OK, None),
    Case("control-two-spaces", lambda w: bearer(w.token(), sep="  "), OK, None),
]

TOKEN_FORMS = [
    Case("one-segment", lambda w: bearer("abcdefghijkl"), UNAUTHORIZED, INVALID_TOKEN),
    Case(
        "two-segments",
        lambda w: bearer(w.token().rsplit(".", 1)[0]),
        UNAUTHORIZED,
        INVALID_TOKEN,
    ),
    Case("four-segments", lambda w: bearer(w.token() + ".AAAA"), UNAUTHORIZED, INVALID_TOKEN),
    Case(
        "five-segments-jwe",
        lambda w: bearer(
            b64(b'{"alg":"RSA-OAEP","enc":"A256GCM","kid":"rsa-main"}') + ".AAAA.AAAA.AAAA.AAAA"
        ),
        UNAUTHORIZED,
        INVALID_TOKEN,
    ),
    Case("only-dots", lambda w: bearer(".."), UNAUTHORIZED, INVALID_TOKEN),
    Case(
        "empty-header-segment",
        lambda w: bearer("." + w.token().split(".", 1)[1]),
        401,
        INVALID_TOKEN,
    ),
    Case(
        "standard-base64-alphabet",
        lambda w: bearer("eyJh+GciOi/.eyJzdWIiOiIx.c2lnbmF0dXJl"),
        UNAUTHORIZED,
        INVALID_TOKEN,
    ),
    Case(
        "segment-length-1-mod-4",
        lambda w: bearer("eyJhbGciOiJSUzI1NiJ9A." + w.token().split(".", 1)[1]),
        UNAUTHORIZED,
        INVALID_TOKEN,
    ),
    Case(
        "padding-inside-token",
        lambda w: bearer("eyJhbGciOiJSUzI1NiJ9==." + w.token().split(".", 1)[1]),
        BAD_REQUEST,
        INVALID_REQUEST,
    ),
    Case("header-not-json", lambda w: forged(b"not json", w.claims(), b"sig"), 401, INVALID_TOKEN),
    Case(
        "header-json-array",
        lambda w: forged(b'["RS256","rsa-main"]', w.claims(), b"sig"),
        UNAUTHORIZED,
        INVALID_TOKEN,
    ),
    Case("header-json-string", lambda w: forged(b'"RS256"', w.claims(), b"s"), 401, INVALID_TOKEN),
    Case("header-json-null", lambda w: forged(b"null", w.claims(), b"sig"), 401, INVALID_TOKEN),
    Case("header-json-number", lambda w: forged(b"256", w.claims(), b"sig"), 401, INVALID_TOKEN),
    Case(
        "header-not-utf8",
        lambda w: forged(b'{"alg":"RS256","kid":"\xff\xfe"}', w.claims(), b"sig"),
        UNAUTHORIZED,
        INVALID_TOKEN,
    ),
    Case(
        "header-deeply-nested",
        lambda w: forged(
            f'{{"alg":"RS256","kid":"rsa-main","x":{nested(5000)}}}'.encode(), w.claims(), b"s"
        ),
        UNAUTHORIZED,
        INVALID_TOKEN,
    ),
    Case(
        "header-duplicate-alg-none-last",
        lambda w: forged(b'{"alg":"RS256","kid":"rsa-main","alg":"none"}', w.claims(), b"s"),
        UNAUTHORIZED,
        INVALID_TOKEN,
    ),
    Case(
        "header-duplicate-alg-signed",
        lambda w: signed(w, b'{"alg":"none","kid":"rsa-main","alg":"RS256"}', claims_json(w)),
        UNAUTHORIZED,
        INVALID_TOKEN,
    ),
    Case(
        "header-duplicate-kid",
        lambda w: signed(w, b'{"alg":"RS256","kid":"attacker","kid":"rsa-main"}', claims_json(w)),
        UNAUTHORIZED,
        INVALID_TOKEN,
    ),
    Case(
        "header-5000-digit-number",
        lambda w: forged(f'{{"alg":"RS256","kid":{"9" * 5000}}}'.encode(), w.claims(), b"s"),
        UNAUTHORIZED,
        INVALID_TOKEN,
    ),
    Case(
        "header-huge-float-alg",
        lambda w: forged(b'{"alg":1e999,"kid":"rsa-main"}', w.claims(), b"sig"),
        UNAUTHORIZED,
        INVALID_TOKEN,
    ),
    Case("payload-not-json", lambda w: signed(w, rsa_header(w), b"not json"), 401, INVALID_TOKEN),
    Case(
        "payload-json-array",
        lambda w: signed(w, rsa_header(w), b'["iss","aud"]'),
        UNAUTHORIZED,
        INVALID_TOKEN,
    ),
    Case("payload-json-null", lambda w: signed(w, rsa_header(w), b"null"), 401, INVALID_TOKEN),
    Case("payload-empty", lambda w: signed(w, rsa_header(w), b""), UNAUTHORIZED, INVALID_TOKEN),
    Case(
        "payload-not-utf8",
        lambda w: signed(w, rsa_header(w), with_member(w, b'"name": "\xff"')),
        UNAUTHORIZED,
        INVALID_TOKEN,
    ),
    Case(
        "payload-deeply-nested",
        lambda w: signed(w, rsa_header(w), with_member(w, f'"x": {nested(5000)}')),
        UNAUTHORIZED,
        INVALID_TOKEN,
    ),
    Case(
        "payload-5000-digit-integer",
        lambda w: signed(w, rsa_header(w), with_member(w, f'"n": {"9" * 5000}')),
        UNAUTHORIZED,
        INVALID_TOKEN,
    ),
    Case(
        # RFC 7519 section 4 lets the last duplicate win; it must be the one judged.
        "payload-duplicate-exp-last-expired",
        lambda w: signed(w, rsa_header(w), with_member(w, f'"exp": {NOW - 3600}')),
        UNAUTHORIZED,
        INVALID_TOKEN,
    ),
    Case(
        "payload-duplicate-aud-last-foreign",
        lambda w: signed(w, rsa_header(w), with_member(w, '"aud": "api://other"')),
        UNAUTHORIZED,
        INVALID_TOKEN,
    ),
    Case(
        "payload-exp-1e30",
        lambda w: signed(w, rsa_header(w), with_member(w, f'"exp": {10**30}')),
        UNAUTHORIZED,
        INVALID_TOKEN,
    ),
    Case(
        "payload-exp-1e308-float",
        lambda w: signed(w, rsa_header(w), with_member(w, '"exp": 1e308')),
        UNAUTHORIZED,
        INVALID_TOKEN,
    ),
    Case(
        "payload-exp-overflows-to-infinity",
        lambda w: signed(w, rsa_header(w), with_member(w, '"exp": 1e999')),
        UNAUTHORIZED,
        INVALID_TOKEN,
    ),
    Case(
        "payload-exp-nan",
        lambda w: signed(w, rsa_header(w), with_member(w, '"exp": NaN')),
        UNAUTHORIZED,
        INVALID_TOKEN,
    ),
    Case(
        "payload-iat-hugely-negative",
        lambda w: signed(w, rsa_header(w), with_member(w, f'"iat": {-(10**30)}')),
        UNAUTHORIZED,
        INVALID_TOKEN,
    ),
    Case(
        "payload-nbf-hugely-negative",
        lambda w: signed(w, rsa_header(w), with_member(w, f'"nbf": {-(10**30)}')),
        UNAUTHORIZED,
        INVALID_TOKEN,
    ),
    Case(
        "token-over-size-cap",
        lambda w: bearer(w.token(pad="x" * 17_000)),
        UNAUTHORIZED,
        INVALID_TOKEN,
    ),
]

ALGORITHM_CASES = [
    Case(
        "alg-none-empty-signature",
        lambda w: bearer(compact({"alg": "none"}, w.claims(), b"")),
        401,
        INVALID_TOKEN,
    ),
    *[
        Case(
            f"alg-{spelling.strip() or 'blank'}-{i}",
            alg_spelled(spelling),
            UNAUTHORIZED,
            INVALID_TOKEN,
        )
        for i, spelling in enumerate(["none", "None", "NONE", "nOnE", "none ", " none", ""])
    ],
    Case(
        "alg-null",
        lambda w: forged({"alg": None, "kid": "rsa-main"}, w.claims(), b"s"),
        401,
        INVALID_TOKEN,
    ),
    Case(
        "alg-missing", lambda w: signed(w, {"kid": w.rsa.kid}, claims_json(w)), 401, INVALID_TOKEN
    ),
    Case(
        "alg-as-list",
        lambda w: signed(w, {"alg": ["RS256"], "kid": w.rsa.kid}, claims_json(w)),
        UNAUTHORIZED,
        INVALID_TOKEN,
    ),
    Case(
        "alg-lowercase-rs256",
        lambda w: signed(w, {"alg": "rs256", "kid": w.rsa.kid}, claims_json(w)),
        UNAUTHORIZED,
        INVALID_TOKEN,
    ),
    Case(
        "hs256-keyed-with-public-pem",
        lambda w: hmac_token(
            w, "HS256", public_pem(w, serialization.PublicFormat.SubjectPublicKeyInfo)
        ),
        UNAUTHORIZED,
        INVALID_TOKEN,
    ),
    Case(
        "hs256-keyed-with-pkcs1-pem",
        lambda w: hmac_token(w, "HS256", public_pem(w, serialization.PublicFormat.PKCS1)),
        UNAUTHORIZED,
        INVALID_TOKEN,
    ),
    Case(
        "hs256-keyed-with-public-jwk",
        lambda w: hmac_token(w, "HS256", json.dumps(w.rsa.public_jwk).encode()),
        UNAUTHORIZED,
        INVALID_TOKEN,
    ),
    Case(
        "hs384-keyed-with-public-pem",
        lambda w: hmac_token(
            w, "HS384", public_pem(w, serialization.PublicFormat.SubjectPublicKeyInfo)
        ),
        UNAUTHORIZED,
        INVALID_TOKEN,
    ),
    Case(
        "hs512-keyed-with-public-pem",
        lambda w: hmac_token(
            w, "HS512", public_pem(w, serialization.PublicFormat.SubjectPublicKeyInfo)
        ),
        UNAUTHORIZED,
        INVALID_TOKEN,
    ),
    Case(
        "hs256-keyed-with-published-oct-key",
        lambda w: hmac_token(w, "HS256", b"shared-secret-0123456789abcdef", kid="oct-key"),
        UNAUTHORIZED,
        INVALID_TOKEN,
    ),
    Case(
        "es256-header-on-rsa-kid",
        lambda w: bearer(w.issuer.sign(w.claims(), header={"kid": w.rsa.kid}, key=w.ec)),
        UNAUTHORIZED,
        INVALID_TOKEN,
    ),
    Case(
        "rs256-header-on-ec-kid",
        lambda w: bearer(w.issuer.sign(w.claims(), header={"kid": w.ec.kid}, key=w.rsa)),
        UNAUTHORIZED,
        INVALID_TOKEN,
    ),
    Case("ps256-on-key-pinned-to-rs256", pss_signed, UNAUTHORIZED, INVALID_TOKEN),
    Case(
        "rs512-not-allowed",
        lambda w: forged({"alg": "RS512", "kid": w.rsa.kid}, w.claims(), b"s" * 256),
        UNAUTHORIZED,
        INVALID_TOKEN,
    ),
    Case(
        "eddsa-not-allowed",
        lambda w: forged({"alg": "EdDSA", "kid": w.rsa.kid}, w.claims(), b"s" * 64),
        UNAUTHORIZED,
        INVALID_TOKEN,
    ),
    Case(
        "es256-r-s-zero-cve-2022-21449",
        lambda w: ec_raw_sig(w, {"alg": "ES256", "kid": w.ec.kid}, b"\x00" * 64),
        UNAUTHORIZED,
        INVALID_TOKEN,
    ),
    Case(
        "es256-r-s-zero-der-encoded",
        lambda w: ec_raw_sig(w, {"alg": "ES256", "kid": w.ec.kid}, encode_dss_signature(0, 0)),
        UNAUTHORIZED,
        INVALID_TOKEN,
    ),
    Case(
        "es256-r-s-equal-curve-order",
        lambda w: ec_raw_sig(
            w, {"alg": "ES256", "kid": w.ec.kid}, P256_ORDER.to_bytes(32, "big") * 2
        ),
        UNAUTHORIZED,
        INVALID_TOKEN,
    ),
    Case("es256-der-signature", der_signed_es256, UNAUTHORIZED, INVALID_TOKEN),
    Case("signature-stripped", strip_signature, UNAUTHORIZED, INVALID_TOKEN),
    Case("signature-truncated", truncate_signature, UNAUTHORIZED, INVALID_TOKEN),
    Case("signature-transplanted", transplant_signature, UNAUTHORIZED, INVALID_TOKEN),
    Case("header-transplanted", transplant_header, UNAUTHORIZED, INVALID_TOKEN),
    Case("payload-tampered-after-signing", tamper_payload, UNAUTHORIZED, INVALID_TOKEN),
    Case(
        "signature-all-zero",
        lambda w: forged(rsa_header(w), w.claims(), b"\x00" * 256),
        UNAUTHORIZED,
        INVALID_TOKEN,
    ),
    Case(
        "weak-rsa-1024-key-in-jwks",
        lambda w: bearer(w.issuer.sign(w.claims(), key=w.weak)),
        UNAUTHORIZED,
        INVALID_TOKEN,
    ),
    Case(
        "use-enc-key-in-jwks",
        lambda w: bearer(w.issuer.sign(w.claims(), key=w.enc)),
        UNAUTHORIZED,
        INVALID_TOKEN,
    ),
    Case(
        "key-ops-encrypt-key-in-jwks",
        lambda w: bearer(w.issuer.sign(w.claims(), key=w.verify_ops)),
        UNAUTHORIZED,
        INVALID_TOKEN,
    ),
    Case(
        "private-key-published-in-jwks",
        lambda w: attacker_signed(w, {"alg": "RS256", "kid": "rsa-private"}),
        UNAUTHORIZED,
        INVALID_TOKEN,
    ),
    Case(
        "foreign-key-with-trusted-kid",
        lambda w: attacker_signed(w, rsa_header(w)),
        UNAUTHORIZED,
        INVALID_TOKEN,
    ),
    Case(
        "es256-allowed-only-rs256",
        lambda w: bearer(w.issuer.sign(w.claims(), key=w.ec)),
        UNAUTHORIZED,
        INVALID_TOKEN,
        {"algorithms": ("RS256",)},
    ),
    Case("control-valid-rs256", lambda w: bearer(w.token()), OK, None),
    Case("control-valid-es256", lambda w: bearer(w.issuer.sign(w.claims(), key=w.ec)), OK, None),
]


def _signed_for(kid: str, alg: str) -> Callable[[World], Req]:
    """An attacker's token naming a published key whose members are hostile numbers."""
    return lambda w: attacker_signed(w, {"alg": alg, "kid": kid}, ec_key=alg == "ES256")


KEY_INJECTION = [
    *(
        Case(f"jwks-member-{kid}", _signed_for(kid, alg), UNAUTHORIZED, INVALID_TOKEN)
        for kid, alg in [
            ("rsa-huge-n", "RS256"),
            ("rsa-negative-e", "RS256"),
            ("ec-1e308-x", "ES256"),
            ("rsa-bool-kty", "RS256"),
        ]
    ),
    Case(
        "jku-attacker-kid",
        lambda w: attacker_signed(w, {"alg": "RS256", "kid": "attacker", "jku": ATTACKER_URL}),
        UNAUTHORIZED,
        INVALID_TOKEN,
    ),
    Case(
        "jku-trusted-kid",
        lambda w: attacker_signed(w, rsa_header(w, jku=ATTACKER_URL)),
        UNAUTHORIZED,
        INVALID_TOKEN,
    ),
    Case(
        "jku-on-issuer-host",
        lambda w: attacker_signed(
            w, {"alg": "RS256", "kid": "attacker", "jku": f"https://{ISSUER_HOST}/evil/keys"}
        ),
        UNAUTHORIZED,
        INVALID_TOKEN,
    ),
    Case(
        "x5u-attacker-kid",
        lambda w: attacker_signed(w, {"alg": "RS256", "kid": "attacker", "x5u": ATTACKER_URL}),
        UNAUTHORIZED,
        INVALID_TOKEN,
    ),
    Case(
        "x5u-trusted-kid",
        lambda w: attacker_signed(w, rsa_header(w, x5u=ATTACKER_URL)),
        UNAUTHORIZED,
        INVALID_TOKEN,
    ),
    Case(
        "embedded-jwk-attacker-kid",
        lambda w: attacker_signed(w, jwk_header(w, "attacker")),
        UNAUTHORIZED,
        INVALID_TOKEN,
    ),
    Case(
        "embedded-jwk-trusted-kid",
        lambda w: attacker_signed(w, jwk_header(w, w.rsa.kid)),
        UNAUTHORIZED,
        INVALID_TOKEN,
    ),
    Case(
        "embedded-jwk-no-kid",
        lambda w: attacker_signed(w, jwk_header(w, None)),
        UNAUTHORIZED,
        INVALID_TOKEN,
    ),
    Case(
        "embedded-ec-jwk",
        lambda w: attacker_signed(
            w, {"alg": "ES256", "kid": "attacker-ec", "jwk": w.attacker_ec.public_jwk}, ec_key=True
        ),
        UNAUTHORIZED,
        INVALID_TOKEN,
    ),
    Case(
        "x5c-attacker-kid",
        lambda w: attacker_signed(w, x5c_header(w, "attacker")),
        401,
        INVALID_TOKEN,
    ),
    Case(
        "x5c-trusted-kid",
        lambda w: attacker_signed(w, x5c_header(w, w.rsa.kid)),
        401,
        INVALID_TOKEN,
    ),
    Case(
        # Ignored, not fatal: the issuer itself signed this header; jku is never read.
        "control-issuer-signed-with-jku",
        lambda w: bearer(w.token(header={"jku": ATTACKER_URL, "x5u": ATTACKER_URL})),
        OK,
        None,
    ),
    Case(
        "kid-path-traversal", lambda w: kid_token(w, "../../../../etc/passwd"), 401, INVALID_TOKEN
    ),
    Case(
        "kid-url-encoded-traversal",
        lambda w: kid_token(w, "%2e%2e%2f%2e%2e%2fkeys"),
        401,
        INVALID_TOKEN,
    ),
    Case("kid-sql-injection", lambda w: kid_token(w, "' OR '1'='1' --"), 401, INVALID_TOKEN),
    Case("kid-url", lambda w: kid_token(w, ATTACKER_URL), UNAUTHORIZED, INVALID_TOKEN),
    Case("kid-257-chars", lambda w: kid_token(w, "k" * 257), UNAUTHORIZED, INVALID_TOKEN),
    Case("kid-10000-chars", lambda w: kid_token(w, "k" * 10_000), UNAUTHORIZED, INVALID_TOKEN),
    Case("kid-integer", lambda w: kid_token(w, 1), UNAUTHORIZED, INVALID_TOKEN),
    Case("kid-null", lambda w: kid_token(w, None), UNAUTHORIZED, INVALID_TOKEN),
    Case("kid-list", lambda w: kid_token(w, ["rsa-main"]), UNAUTHORIZED, INVALID_TOKEN),
    Case("kid-object", lambda w: kid_token(w, {"$ne": ""}), UNAUTHORIZED, INVALID_TOKEN),
    Case("kid-empty", lambda w: kid_token(w, ""), UNAUTHORIZED, INVALID_TOKEN),
    Case("kid-nul-byte", lambda w: kid_token(w, "rsa-main\x00"), UNAUTHORIZED, INVALID_TOKEN),
    Case("kid-crlf", lambda w: kid_token(w, "rsa-main\r\nX: y"), UNAUTHORIZED, INVALID_TOKEN),
    Case("kid-proto", lambda w: kid_token(w, "__proto__"), UNAUTHORIZED, INVALID_TOKEN),
    Case("kid-missing", lambda w: signed(w, {"alg": "RS256"}, claims_json(w)), 401, INVALID_TOKEN),
    Case(
        "crit-exp",
        lambda w: bearer(w.token(header={"crit": ["exp"], "exp": 1})),
        401,
        INVALID_TOKEN,
    ),
    Case(
        "crit-b64-false",
        lambda w: bearer(w.token(header={"crit": ["b64"], "b64": False})),
        UNAUTHORIZED,
        INVALID_TOKEN,
    ),
    Case("crit-empty-list", lambda w: bearer(w.token(header={"crit": []})), 401, INVALID_TOKEN),
    Case("crit-string", lambda w: bearer(w.token(header={"crit": "x"})), 401, INVALID_TOKEN),
    Case(
        "typ-dpop-proof", lambda w: bearer(w.token(header={"typ": "dpop+jwt"})), 401, INVALID_TOKEN
    ),
    Case("typ-id-token", lambda w: bearer(w.token(header={"typ": "id_token"})), 401, INVALID_TOKEN),
    Case("typ-not-string", lambda w: bearer(w.token(header={"typ": 1})), 401, INVALID_TOKEN),
    Case("control-typ-jwt", lambda w: bearer(w.token(header={"typ": "JWT"})), OK, None),
    Case("control-typ-at-jwt", lambda w: bearer(w.token(header={"typ": "at+jwt"})), OK, None),
]


def respell_signature(token: str) -> str:
    """The token with its signature's last character given non-zero spare bits (same bytes)."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    head, _, signature = token.rpartition(".")
    assert len(signature) % 4 in (2, 3)  # RS256: 342 characters
    return f"{head}.{signature[:-1]}{alphabet[alphabet.index(signature[-1]) + 1]}"


def claim(name: str, value: Any, status: int = UNAUTHORIZED, **options: Any) -> Case:
    """A row for a token signed by the trusted key with one claim set (or ``OMIT``ted)."""
    label = "missing" if value is OMIT else repr(value)[:40]
    label += "".join(f",{k}={v!r}" for k, v in options.items())
    error = {OK: None, UNAUTHORIZED: INVALID_TOKEN, FORBIDDEN: INSUFFICIENT_SCOPE}[status]
    return Case(
        f"{name}={label}", lambda w: bearer(w.token(**{name: value})), status, error, options
    )


LEEWAY = 30
CLAIMS = [
    claim("exp", NOW - LEEWAY - 1),
    claim("exp", NOW - LEEWAY),  # exp + leeway == now is already expired (RFC 7519 4.1.4)
    claim("exp", NOW - LEEWAY + 1, OK),
    claim("exp", NOW, leeway=0),
    claim("exp", NOW + 1, OK, leeway=0),
    claim("exp", OMIT),
    claim("exp", None),
    claim("exp", str(NOW + 3600)),
    claim("exp", True),
    claim("exp", [NOW + 3600]),
    claim("nbf", NOW + LEEWAY + 1),
    claim("nbf", NOW + LEEWAY, OK),
    claim("nbf", "yesterday"),
    claim("nbf", NOW + 7200),  # after exp: the lifetime is empty
    claim("iat", NOW + LEEWAY + 1),
    claim("iat", NOW + LEEWAY, OK),
    claim("iat", "now"),
    claim("iat", False),
    claim("iat", OMIT, OK),
    claim("iat", OMIT, max_token_age=600),
    claim("iat", NOW - 600 - LEEWAY - 1, max_token_age=600),
    claim("iat", NOW - 600 - LEEWAY, OK, max_token_age=600),
    claim("iss", "https://okta.example.test/oauth2/other"),
    claim("iss", ISSUER + "/"),
    claim("iss", ISSUER.upper()),
    claim("iss", "https://okta.example.test"),
    claim("iss", OMIT),
    claim("iss", 1),
    claim("iss", [ISSUER]),
    claim("iss", 'https://evil"\r\nX-Injected: 1'),
    claim("aud", "api://other"),
    claim("aud", OMIT),
    claim("aud", None),
    claim("aud", 1),
    claim("aud", [1]),
    claim("aud", []),
    claim("aud", {"api://default": True}),
    claim("aud", "API://DEFAULT"),
    claim("aud", ["api://other", "api://default"], OK),
    claim("cid", "0oaOtherClient", client_ids=["0oa1testclient"]),
    claim("cid", OMIT, client_ids=["0oa1testclient"]),
    claim("cid", 7, client_ids=["0oa1testclient"]),
    claim("cid", ["0oa1testclient"], client_ids=["0oa1testclient"]),
    claim("cid", "0oa1testclient", OK, client_ids=["0oa1testclient"]),
    claim("scp", OMIT, FORBIDDEN),
    claim("scp", [], FORBIDDEN),
    claim("scp", ["items:READ"], FORBIDDEN),
    claim("scp", ["items"], FORBIDDEN),
    claim("scp", ["items:read:all"], FORBIDDEN),
    claim("scp", 42, UNAUTHORIZED),
    claim("scp", {"items:read": True}, UNAUTHORIZED),
    claim("scp", ["items:read", 1], UNAUTHORIZED),
    claim("scp", ["items:read", None], UNAUTHORIZED),
    claim("scp", "openid\titems:read", FORBIDDEN),
    claim("scp", "items:read", OK),
    Case(
        "scope-string-without-scp",
        lambda w: bearer(w.token(scp=OMIT, scope="openid items:read")),
        OK,
        None,
    ),
    Case(
        "scope-wrong-type-without-scp",
        lambda w: bearer(w.token(scp=OMIT, scope=42)),
        UNAUTHORIZED,
        INVALID_TOKEN,
    ),
    Case(
        "scope-list-without-scp",
        lambda w: bearer(w.token(scp=OMIT, scope=["openid", "items:read"])),
        UNAUTHORIZED,
        INVALID_TOKEN,
    ),
    Case(
        "scope-split-on-newline-is-not-a-scope",
        lambda w: bearer(w.token(scp=OMIT, scope="openid\nitems:read")),
        FORBIDDEN,
        INSUFFICIENT_SCOPE,
    ),
    Case("id-token-as-access-token", id_token, UNAUTHORIZED, INVALID_TOKEN),
    Case(
        "signature-spelled-non-canonically",
        lambda w: bearer(respell_signature(w.token())),
        UNAUTHORIZED,
        INVALID_TOKEN,
    ),
    Case(
        "id-token-with-scp-as-access-token",
        lambda w: id_token(w, scp=["items:read"]),
        UNAUTHORIZED,
        INVALID_TOKEN,
    ),
    Case("other-issuer-same-kid", twin_signed, UNAUTHORIZED, INVALID_TOKEN),
    Case(
        "other-issuer-same-kid-claiming-our-iss",
        lambda w: twin_signed(w, iss=ISSUER),
        UNAUTHORIZED,
        INVALID_TOKEN,
    ),
]

CASES = [*HEADER_FORMS, *TOKEN_FORMS, *ALGORITHM_CASES, *KEY_INJECTION, *CLAIMS]


def test_the_table_is_large_and_unambiguous() -> None:
    """The suite holds at least 80 hostile rows, each with a unique name."""
    hostile = [case for case in CASES if case.status != OK]
    assert len(hostile) >= 80
    assert len({case.id for case in CASES}) == len(CASES)


@pytest.mark.anyio
@pytest.mark.parametrize("driver", DRIVERS)
@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
async def test_hostile_request(
    case: Case, driver: str, world: World, caplog: pytest.LogCaptureFixture
) -> None:
    """Every framework gives the documented answer, leaks nothing, fetches only trusted URLs."""
    capture_library_logs(caplog)
    world.issuer.requests.clear()
    request = case.build(world)
    path = f"/?{request.query}" if request.query else "/"
    async with api_client(world, driver=driver, **case.options) as (client, _):
        response = await client.get(path, headers=request.headers)

    assert response.status_code == case.status
    assert challenge_error(response) == case.error
    if case.status == OK:
        assert "www-authenticate" not in response.headers
    else:
        assert response.headers["cache-control"] == "no-store"
        assert response.headers["www-authenticate"].startswith('Bearer realm="api"')
    assert_no_leak(response, request.secrets, caplog)
    fetched = {(r.url.host, r.url.path) for r in world.issuer.requests}
    assert all(host == ISSUER_HOST for host, _ in fetched), fetched
    assert all("/evil/" not in path for _, path in fetched), fetched
