"""DPoP proofs (RFC 9449): parse one and check it against the request (pure).

Everything here is a function of its arguments and ``now``: no store, no
clock, no network.  Replay marks and server nonces are applied by the caller
(``okta_bearer._dpop.guard``), which keys them on what :func:`check_proof`
returns.

Errors::

    BearerError
    ├── InvalidDPoPProof        401  invalid_dpop_proof   (RFC 9449 section 7.1)
    ├── UseDPoPNonce            401  use_dpop_nonce       (+ the nonce to send, section 9)
    └── ReplayCacheUnavailable  503  the jti store cannot answer (+ retry_after)
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable, Collection, Mapping
from typing import Any, NamedTuple

from cachetools import LRUCache

from .._errors import InvalidDPoPProof, InvalidToken, ReplayCacheUnavailable, UseDPoPNonce
from .._jwt import b64url
from .._jwt.binding import DPOP_KEY, binding_of, refusal
from .._jwt.claims import Claims
from .._jwt.jwk import SUPPORTED_ALGORITHMS, JWKError, jwk_thumbprint, signature_check
from .._jwt.validation import numeric_date
from .url import normalize_htu

__all__ = [
    "DPOP_ALGORITHMS",
    "MAX_PROOF_SIZE",
    "DPoPProof",
    "InvalidDPoPProof",
    "ReplayCacheUnavailable",
    "UseDPoPNonce",
    "access_token_hash",
    "check_binding",
    "check_proof",
    "jwk_thumbprint",
]

#: Upper bound on a proof's length: an RSA-4096 proof is about 2 KB.
MAX_PROOF_SIZE = 8192
_MAX_JTI = 256
_MAX_NONCE = 512
#: Every proof algorithm this module can check: asymmetric only (RFC 9449
#: section 4.3, check 5), never "none" or a MAC, whose key would be public.
DPOP_ALGORITHMS = SUPPORTED_ALGORITHMS
# RFC 7517 / RFC 7518 section 6: members that make a JWK private (or symmetric).
_PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})
_TYP = frozenset({"dpop+jwt", "application/dpop+jwt"})


class DPoPProof(NamedTuple):
    """What a checked proof says: the key it is bound to and its replay identity.

    Attributes:
        jkt: RFC 7638 SHA-256 thumbprint of the proof's public key (base64url).
        jti: the proof's unique identifier.
        iat: the proof's creation time (seconds since the epoch).
        nonce: the server nonce the proof carried, if any.
    """

    jkt: str
    jti: str
    iat: float
    nonce: str | None


def access_token_hash(token: str) -> str:
    """``ath`` for ``token``: base64url(SHA-256(ASCII token)), RFC 9449 section 4.2."""
    return _b64(hashlib.sha256(token.encode("ascii")).digest())


def check_binding(claims: Claims | Mapping[str, Any], jkt: str) -> None:
    """Check that the token is bound to the proof's key (RFC 9449 section 6.1).

    ``claims`` is a token's :class:`~okta_bearer.Claims` (or its raw claims).

    Raises:
        InvalidToken: ``dpop_unbound`` for a token that is not sender-constrained,
            ``uncheckable_binding`` for one bound by a method other than
            ``cnf.jkt`` alone (see ``okta_bearer._jwt.binding``), or
            ``dpop_key_mismatch`` when ``cnf.jkt`` is another key's.
    """
    if isinstance(claims, Claims):
        binding, raw = claims.binding, claims.raw
    else:
        binding, raw = binding_of(claims), claims
    if binding != DPOP_KEY:
        if binding is None:
            raise InvalidToken("dpop_unbound", "The token is not bound to a DPoP key")
        raise refusal(binding)
    if not _equal(raw["cnf"]["jkt"], jkt):
        raise InvalidToken("dpop_key_mismatch", "Invalid DPoP key binding")


def check_proof(
    proof: str,
    *,
    method: str,
    url: str,
    now: float,
    access_token: str | None,
    algorithms: Collection[str] = DPOP_ALGORITHMS,
    max_age: float = 60.0,
    leeway: float = 5.0,
    nonce_check: Callable[[str | None], None] | None = None,
    max_size: int = MAX_PROOF_SIZE,
) -> DPoPProof:
    """Check one DPoP proof JWT against the request it came with (RFC 9449 section 4.3).

    Args:
        proof: the ``DPoP`` header value (one compact JWS).
        method: the request method; ``htm`` must equal it.
        url: the request URL as the client addressed it; ``htu`` must equal it
            once both are normalised and query and fragment are dropped.
        now: the current time, seconds since the epoch.
        access_token: the access token sent with the proof (``ath`` must be its
            hash), or ``None`` where no token is presented (a token endpoint:
            then ``ath`` is not checked).
        algorithms: the accepted proof algorithms (a subset of :data:`DPOP_ALGORITHMS`).
        max_age: how old ``iat`` may be, in seconds.
        leeway: how far ahead of ``now`` ``iat`` may be, in seconds.
        nonce_check: called with the proof's ``nonce`` (or ``None``) when the
            server uses nonces; it raises :class:`UseDPoPNonce` to refuse.
        max_size: longest proof accepted, checked before any parsing.

    Returns:
        The key thumbprint, ``jti``, ``iat`` and ``nonce`` of the proof.  The
        caller still has to mark ``jti`` as used and check the token binding.

    Raises:
        InvalidDPoPProof: for any failed check.
        UseDPoPNonce: raised by ``nonce_check``.
    """
    head, header, payload, signing_input, signature = _split(proof, max_size)
    # Check 4: typ (media types compare case-insensitively, RFC 7515 section 4.1.9).
    typ = header.get("typ")
    if not isinstance(typ, str) or typ.lower() not in _TYP:
        raise InvalidDPoPProof("bad_typ", "DPoP proof typ must be dpop+jwt")
    # Check 5: an asymmetric algorithm from our allow-list, never the proof's choice.
    alg = header.get("alg")
    if not isinstance(alg, str) or alg not in algorithms or alg not in DPOP_ALGORITHMS:
        raise InvalidDPoPProof("bad_alg", "DPoP proof algorithm is not allowed")
    # We implement no JWS extensions (RFC 7515 section 4.1.11).
    if "crit" in header:
        raise InvalidDPoPProof("crit", "DPoP proof has unsupported critical headers")
    # Checks 6 and 7: a public key that fits alg and verifies the signature.
    jwk = header.get("jwk")
    if not isinstance(jwk, dict):
        raise InvalidDPoPProof("bad_jwk", "DPoP proof has no usable jwk")
    if _PRIVATE_MEMBERS.intersection(jwk):
        raise InvalidDPoPProof("private_jwk", "DPoP proof jwk must be a public key")
    verify, jkt = _key_of(head, jwk, alg)
    if not verify(signing_input, signature):
        raise InvalidDPoPProof("bad_signature", "DPoP proof signature is invalid")
    claims = _json_object(payload)
    jti = claims.get("jti")
    if not isinstance(jti, str) or not jti or len(jti) > _MAX_JTI:
        raise InvalidDPoPProof("bad_jti", "DPoP proof jti is missing or invalid")
    # Check 8: htm is the request method, compared exactly (RFC 9110 section 9.1).
    if claims.get("htm") != method:
        raise InvalidDPoPProof("bad_htm", "DPoP proof htm does not match the request")
    # Check 9: htu, after syntax- and scheme-based normalisation (RFC 3986 6.2.2, 6.2.3).
    # Equal strings normalise alike, so the common case skips both normalisations.
    htu = claims.get("htu")
    if htu != url:
        expected = normalize_htu(url)
        if not isinstance(htu, str) or expected is None or normalize_htu(htu) != expected:
            raise InvalidDPoPProof("bad_htu", "DPoP proof htu does not match the request")
    # Check 11: iat within [now - max_age, now + leeway] (section 11.1).
    iat = numeric_date(claims.get("iat"))
    if iat is None:
        raise InvalidDPoPProof("bad_iat", "DPoP proof iat is missing or invalid")
    if iat < now - max_age:
        raise InvalidDPoPProof("stale_iat", "DPoP proof is too old")
    if iat > now + leeway:
        raise InvalidDPoPProof("future_iat", "DPoP proof is issued in the future")
    # Check 12: ath binds the proof to this very access token (section 4.3, 7).
    if access_token is not None:
        ath = claims.get("ath")
        if not isinstance(ath, str) or not _equal(ath, access_token_hash(access_token)):
            raise InvalidDPoPProof("bad_ath", "DPoP proof ath does not match the access token")
    # Check 10: the server nonce, when the server uses them (section 9).
    nonce = claims.get("nonce")
    if nonce is not None and (not isinstance(nonce, str) or len(nonce) > _MAX_NONCE):
        raise InvalidDPoPProof("bad_nonce", "DPoP proof nonce is invalid")
    if nonce_check is not None:
        nonce_check(nonce)
    return DPoPProof(jkt, jti, float(iat), nonce)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _equal(a: str, b: str) -> bool:
    # Constant time; a non-ASCII value can never equal our ASCII expectations.
    try:
        return hmac.compare_digest(a.encode("ascii"), b.encode("ascii"))
    except UnicodeEncodeError:
        return False


def _b64decode(segment: str) -> bytes:
    # One spelling per proof, as for tokens (RFC 4648 section 3.5).
    try:
        return b64url.decode(segment.encode("ascii"))
    except ValueError as exc:  # binascii.Error; the proof was checked to be ASCII
        raise InvalidDPoPProof("malformed", "DPoP proof is not a valid JWS") from exc


def _unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # RFC 7515 section 4 / RFC 7519 section 4: member names must be unique, so
    # a second "alg" or "htu" cannot hide behind the first.
    result = dict(pairs)
    if len(result) != len(pairs):
        raise ValueError("duplicate member")
    return result


def _json_object(data: bytes) -> dict[str, Any]:
    try:
        value = json.loads(data.decode("utf-8"), object_pairs_hook=_unique)
    except (ValueError, RecursionError) as exc:  # includes UnicodeDecodeError
        raise InvalidDPoPProof("malformed", "DPoP proof is not a valid JWS") from exc
    if not isinstance(value, dict):
        raise InvalidDPoPProof("malformed", "DPoP proof is not a valid JWS")
    return value


def _split(proof: str, max_size: int) -> tuple[str, dict[str, Any], bytes, bytes, bytes]:
    # Checks 1 and 2: one well-formed compact JWS, bounded before any work.
    if len(proof) > max_size:
        raise InvalidDPoPProof("too_large", "DPoP proof is too large")
    if not proof.isascii() or proof.count(".") != 2:
        raise InvalidDPoPProof("malformed", "DPoP proof is not a valid JWS")
    head, body, sig = proof.split(".")
    header = _json_object(_b64decode(head))
    payload = _b64decode(body)
    signature = _b64decode(sig)
    return head, header, payload, f"{head}.{body}".encode("ascii"), signature


# A client signs every proof with one key, so the protected header (typ, alg,
# jwk) is byte for byte the same each time: the parsed key's bound check and
# its thumbprint are kept per header segment.  Bounded, least recently used
# first; an attacker sending many headers only evicts entries (never grows
# memory), and an entry says nothing about any signature.
_KEYS: LRUCache[str, tuple[Callable[[bytes, bytes], bool], str]] = LRUCache(maxsize=1024)


def _key_of(head: str, jwk: dict[str, Any], alg: str) -> tuple[Callable[[bytes, bytes], bool], str]:
    cached = _KEYS.get(head)
    if cached is not None:
        return cached
    verify = _signature_check(jwk, alg)
    try:
        jkt = jwk_thumbprint(jwk)
    except ValueError as exc:  # unreachable once the key loaded; kept as a guard
        raise InvalidDPoPProof("bad_jwk", "DPoP proof has no usable jwk") from exc
    _KEYS[head] = (verify, jkt)
    return verify, jkt


def _signature_check(jwk: dict[str, Any], alg: str) -> Callable[[bytes, bytes], bool]:
    # The same bound check the issuer's keys get (okta_bearer._jwt.jwk): shape,
    # public members only, RSA size limits, raw r||s ECDSA signatures.
    if jwk.get("alg", alg) != alg:
        raise InvalidDPoPProof("bad_jwk", "DPoP proof jwk does not fit its algorithm")
    try:
        return signature_check(jwk, alg)
    except JWKError as exc:
        raise InvalidDPoPProof("bad_jwk", "DPoP proof has no usable jwk") from exc
