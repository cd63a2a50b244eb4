"""JSON Web Keys turned into bound signature checks (RFC 7517, RFC 7518, RFC 7638).

A JWK is parsed once into a ``check(signing_input, signature) -> bool`` that
holds the prepared public key, its padding and hash objects.  The verifier
calls the check and never touches key material or algorithm tables itself;
DPoP proofs, which carry their own ``jwk``, use the same function.

RS256/384/512 and ES256/384/512 are checked with ``cryptography`` directly
(PyJWT's ``verify`` rebuilds padding and hash objects on every call); PS*
and EdDSA go through PyJWT's algorithm objects.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from jwt.algorithms import Algorithm, get_default_algorithms

__all__ = [
    "SUPPORTED_ALGORITHMS",
    "JWKError",
    "SignatureCheck",
    "build_keys",
    "jwk_thumbprint",
    "signature_check",
]

logger = logging.getLogger("okta_bearer")

#: ``check(signing_input, signature) -> bool``, bound to one key and algorithm.
SignatureCheck = Callable[[bytes, bytes], bool]

# Algorithm -> (kty, curves) a key must have to be used with it (RFC 7518 section 3).
_KEY_SHAPE: dict[str, tuple[str, frozenset[str] | None]] = {
    "RS256": ("RSA", None),
    "RS384": ("RSA", None),
    "RS512": ("RSA", None),
    "PS256": ("RSA", None),
    "PS384": ("RSA", None),
    "PS512": ("RSA", None),
    "ES256": ("EC", frozenset({"P-256"})),
    "ES384": ("EC", frozenset({"P-384"})),
    "ES512": ("EC", frozenset({"P-521"})),
    "EdDSA": ("OKP", frozenset({"Ed25519", "Ed448"})),
    # RFC 9864 section 2.2: the fully specified name, Ed25519 keys only.
    "Ed25519": ("OKP", frozenset({"Ed25519"})),
}
SUPPORTED_ALGORITHMS = frozenset(_KEY_SHAPE)
_PYJWT: dict[str, Algorithm] = {
    name: algo for name, algo in get_default_algorithms().items() if name in _KEY_SHAPE
}
_PYJWT["Ed25519"] = _PYJWT["EdDSA"]  # the same signature; only the name is new
_HASHES: dict[str, Callable[[], hashes.HashAlgorithm]] = {
    "256": hashes.SHA256,
    "384": hashes.SHA384,
    "512": hashes.SHA512,
}
# Members that only private or symmetric keys have (RFC 7518 section 6).
_PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})
# RFC 7638 section 3.2: the members a thumbprint covers, per key type.
_THUMBPRINT_MEMBERS = {
    "RSA": ("e", "kty", "n"),
    "EC": ("crv", "kty", "x", "y"),
    "OKP": ("crv", "kty", "x"),
}


class JWKError(ValueError):
    """A JWK cannot be used; the message is safe to log (no key material)."""


def _rsa_pkcs1(key: Any, digest: hashes.HashAlgorithm) -> SignatureCheck:
    pkcs1 = padding.PKCS1v15()
    verify = key.verify

    def check(data: bytes, signature: bytes) -> bool:
        try:
            verify(signature, data, pkcs1, digest)
        except InvalidSignature:
            return False
        return True

    return check


def _ecdsa(key: Any, digest: hashes.HashAlgorithm) -> SignatureCheck:
    ecdsa = ec.ECDSA(digest)
    verify = key.verify
    # RFC 7518 section 3.4: the signature is R || S, each as long as the curve order.
    size = (key.curve.key_size + 7) // 8

    def check(data: bytes, signature: bytes) -> bool:
        if len(signature) != 2 * size:
            return False
        der = encode_dss_signature(
            int.from_bytes(signature[:size], "big"), int.from_bytes(signature[size:], "big")
        )
        try:
            verify(der, data, ecdsa)
        except InvalidSignature:
            return False
        return True

    return check


def _pyjwt(algorithm: Algorithm, key: Any) -> SignatureCheck:
    def check(data: bytes, signature: bytes) -> bool:
        try:
            return bool(algorithm.verify(data, key, signature))
        except Exception:  # any failure to verify is "not valid"
            return False

    return check


def signature_check(jwk: Mapping[str, Any], alg: str) -> SignatureCheck:
    """Parse the public ``jwk`` for ``alg`` into a bound signature check.

    Raises:
        JWKError: the key is private or symmetric, does not fit ``alg``, is an
            RSA key under 2048 bits, or cannot be parsed.
    """
    shape = _KEY_SHAPE.get(alg)
    if shape is None:
        raise JWKError(f"algorithm {alg!r} is not supported")
    if _PRIVATE_MEMBERS.intersection(jwk):
        raise JWKError("holds private or symmetric key material")
    kty, curves = shape
    crv = jwk.get("crv")
    if jwk.get("kty") != kty or (
        curves is not None and (not isinstance(crv, str) or crv not in curves)
    ):
        raise JWKError(f"does not fit {alg}")
    try:
        key = _PYJWT[alg].from_jwk(dict(jwk))
    except Exception as exc:  # PyJWT raises several types for bad keys
        raise JWKError("cannot be parsed") from exc
    if kty == "RSA":
        if getattr(key, "key_size", 0) < 2048:
            raise JWKError("RSA key is shorter than 2048 bits")
        if key.key_size > 8192:  # a huge modulus only makes every check slower for us
            raise JWKError("RSA key is longer than 8192 bits")
        if alg.startswith("RS"):
            return _rsa_pkcs1(key, _HASHES[alg[2:]]())
    elif kty == "EC":
        return _ecdsa(key, _HASHES[alg[2:]]())
    return _pyjwt(_PYJWT[alg], key)


def _usable(jwk: Mapping[str, Any], allowed: Iterable[str]) -> dict[str, SignatureCheck]:
    use, key_ops, key_alg = jwk.get("use"), jwk.get("key_ops"), jwk.get("alg")
    if use is not None and use != "sig":
        return {}
    if key_ops is not None and (not isinstance(key_ops, list) or "verify" not in key_ops):
        return {}
    if _PRIVATE_MEMBERS.intersection(jwk):
        raise JWKError("holds private or symmetric key material")
    checks: dict[str, SignatureCheck] = {}
    for alg in allowed:
        if key_alg is not None and key_alg != alg:
            continue  # a JWK's 'alg' pins the one algorithm it may be used with
        kty, curves = _KEY_SHAPE[alg]
        crv = jwk.get("crv")
        if jwk.get("kty") != kty or (
            curves is not None and (not isinstance(crv, str) or crv not in curves)
        ):
            continue
        checks[alg] = signature_check(jwk, alg)
    return checks


def build_keys(jwks: object, algorithms: Iterable[str]) -> dict[str, dict[str, SignatureCheck]]:
    """Turn a JWK Set into ``{kid: {alg: check}}``.

    Members that cannot be used (no ``kid``, encryption keys, private or weak
    keys, members of the wrong JSON type) are skipped with a log line, never
    fatal; the first member with a given ``kid`` wins.

    Raises:
        JWKError: the document is not ``{"keys": [...]}``.
    """
    if not isinstance(jwks, dict) or not isinstance(jwks.get("keys"), list):
        raise JWKError("JWKS is not an object with a 'keys' list")
    allowed = [alg for alg in algorithms if alg in _KEY_SHAPE]
    result: dict[str, dict[str, SignatureCheck]] = {}
    for jwk in jwks["keys"]:
        if not isinstance(jwk, dict):
            continue
        kid = jwk.get("kid")
        if not isinstance(kid, str) or not kid:
            logger.info("okta_bearer: skipping a JWK without a string 'kid'")
            continue
        if kid in result:
            continue
        try:
            checks = _usable(jwk, allowed)
        except JWKError as exc:
            logger.warning("okta_bearer: JWK %r ignored: %s", kid[:64], exc)
            continue
        except Exception:  # a hostile member must never fail the whole set
            logger.warning("okta_bearer: JWK %r ignored: malformed member", kid[:64])
            continue
        if checks:
            result[kid] = checks
    return result


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def jwk_thumbprint(jwk: Mapping[str, Any]) -> str:
    """The RFC 7638 SHA-256 thumbprint of a public JWK, base64url-encoded.

    Raises:
        JWKError: the key type is not RSA, EC or OKP, or a required member is
            missing or not a string.
    """
    members = _THUMBPRINT_MEMBERS.get(jwk.get("kty"))  # type: ignore[arg-type]
    if members is None:
        raise JWKError("key type has no thumbprint")
    canonical: dict[str, str] = {}
    for name in members:
        value = jwk.get(name)
        if not isinstance(value, str) or not value:
            raise JWKError(f"member {name!r} is missing")
        canonical[name] = value
    text = json.dumps(canonical, separators=(",", ":"), sort_keys=True, ensure_ascii=False)
    return _b64url(hashlib.sha256(text.encode("utf-8")).digest())
