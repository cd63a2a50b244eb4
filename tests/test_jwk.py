"""JWKs become bound signature checks; unusable members are skipped, thumbprints per RFC 7638."""

from __future__ import annotations

import json
from typing import Any

import pytest

from okta_bearer._jwt.jwk import JWKError, build_keys, jwk_thumbprint, signature_check
from okta_bearer.testing import SigningKey


def jwk(key: SigningKey, **changes: Any) -> dict[str, Any]:
    return {**key.public_jwk, **changes}


def test_unusable_keys_are_skipped() -> None:
    """Weak RSA, encryption-only, private, symmetric and kid-less keys are never used."""
    good = SigningKey.generate("RS256", kid="good")
    weak = SigningKey.generate("RS256", kid="weak", key_size=1024)
    enc = SigningKey.generate("RS256", kid="enc")
    ops = SigningKey.generate("RS256", kid="ops")
    private = {**good.public_jwk, "kid": "private", "d": "AQAB"}
    document = {
        "keys": [
            jwk(good),
            jwk(weak),
            jwk(enc, use="enc"),
            jwk(ops, key_ops=["encrypt"]),
            private,
            {"kty": "oct", "kid": "sym", "k": "c2VjcmV0"},
            {k: v for k, v in good.public_jwk.items() if k != "kid"},
            "not a key",
        ]
    }
    assert set(build_keys(document, ["RS256"])) == {"good"}


def test_key_alg_pins_algorithm() -> None:
    """A JWK without 'alg' serves every allowed algorithm of its type; with 'alg', only that one."""
    key = SigningKey.generate("RS256", kid="k")
    unpinned = {k: v for k, v in key.public_jwk.items() if k != "alg"}
    assert set(build_keys({"keys": [unpinned]}, ["RS256", "PS256", "ES256"])["k"]) == {
        "RS256",
        "PS256",
    }
    assert set(build_keys({"keys": [key.public_jwk]}, ["RS256", "PS256"])["k"]) == {"RS256"}


@pytest.mark.parametrize("document", [None, [], {"keys": "x"}, {"nokeys": []}])
def test_bad_jwks_documents(document: object) -> None:
    """A JWKS that is not {"keys": [...]} is a fetch failure."""
    with pytest.raises(Exception, match="keys"):
        build_keys(document, ["RS256"])


def test_thumbprint_matches_rfc7638_example() -> None:
    """The RFC 7638 section 3.1 example key has the thumbprint the RFC gives."""
    key = {
        "kty": "RSA",
        "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSo"
        "c_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0"
        "_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI"
        "4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
        "e": "AQAB",
        "alg": "RS256",
        "kid": "2011-04-29",
    }
    assert jwk_thumbprint(key) == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"


@pytest.mark.parametrize(
    "key", [{"kty": "oct", "k": "c2VjcmV0"}, {"kty": "EC", "crv": "P-256", "x": "AA"}, {}]
)
def test_thumbprint_refuses_incomplete_or_symmetric_keys(key: dict[str, Any]) -> None:
    """Only complete RSA, EC and OKP public keys have a thumbprint."""
    with pytest.raises(JWKError):
        jwk_thumbprint(key)


@pytest.mark.parametrize(
    "changes",
    [
        {"crv": []},
        {"crv": {"a": 1}},
        {"x": 5},
        {"y": None},
        {"kty": ["EC"]},
        {"use": []},
        {"key_ops": "verify"},
        {"alg": ["ES256"]},
    ],
)
def test_members_of_the_wrong_json_type_skip_the_key_not_the_set(changes: dict[str, Any]) -> None:
    """A key with a member of the wrong JSON type is skipped; the other keys still load."""
    good = SigningKey.generate("ES256", kid="good")
    odd = SigningKey.generate("ES256", kid="odd")
    document = {"keys": [{**odd.public_jwk, **changes}, good.public_jwk]}
    assert set(build_keys(document, ["ES256"])) == {"good"}


@pytest.mark.parametrize("alg", ["RS256", "PS256", "ES256", "ES384", "EdDSA", "Ed25519"])
def test_bound_check_accepts_its_signature_and_nothing_else(alg: str) -> None:
    """A bound check verifies what its key signed and refuses another input or a short signature."""
    key = SigningKey.generate(alg)
    check = signature_check(key.public_jwk, alg)
    signature = key.sign(b"header.payload")
    assert check(b"header.payload", signature)
    assert not check(b"header.payload2", signature)
    assert not check(b"header.payload", signature[:-1])
    assert not check(b"header.payload", b"")


def test_private_key_members_are_refused() -> None:
    """A JWK carrying private material is never turned into a check."""
    key = SigningKey.generate("ES256")
    with pytest.raises(JWKError, match="private"):
        signature_check({**key.public_jwk, "d": "AAAA"}, "ES256")


def test_ed25519_algorithm_takes_ed25519_keys_only() -> None:
    """alg Ed25519 (RFC 9864) is EdDSA on the Ed25519 curve: an Ed448 key does not fit it."""
    from cryptography.hazmat.primitives.asymmetric import ed448
    from jwt.algorithms import OKPAlgorithm

    jwk = json.loads(OKPAlgorithm.to_jwk(ed448.Ed448PrivateKey.generate().public_key()))
    signature_check(jwk, "EdDSA")  # fits EdDSA
    with pytest.raises(JWKError, match="does not fit"):
        signature_check(jwk, "Ed25519")
