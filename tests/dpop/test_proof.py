"""RFC 9449 section 4.3 proof checks, one row per rule, on the pure checker."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from jwt.algorithms import ECAlgorithm

from okta_bearer import InvalidToken
from okta_bearer._dpop.proof import (
    InvalidDPoPProof,
    UseDPoPNonce,
    access_token_hash,
    check_binding,
    check_proof,
    jwk_thumbprint,
)
from okta_bearer._testing.dpop import DPoPKey
from okta_bearer.testing import OMIT, SigningKey

NOW = 1_700_000_000.0
URL = "https://api.example.test/items"
TOKEN = "header.payload.signature"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


@pytest.fixture(scope="module")
def key() -> DPoPKey:
    """One ES256 client key for the whole module (key generation is the slow part)."""
    return DPoPKey(clock=lambda: NOW)


def _check(proof: str, **options: Any) -> Any:
    options.setdefault("method", "GET")
    options.setdefault("url", URL)
    options.setdefault("now", NOW)
    options.setdefault("access_token", TOKEN)
    return check_proof(proof, **options)


def test_valid_proof_returns_thumbprint_jti_and_iat(key: DPoPKey) -> None:
    """A well-formed proof yields the key thumbprint, its jti and its iat."""
    proof = key.proof("GET", URL, TOKEN, jti="j-1")
    result = _check(proof)
    assert (result.jkt, result.jti, result.iat, result.nonce) == (key.jkt, "j-1", NOW, None)


def _resign(key: DPoPKey, header: dict[str, Any], payload: dict[str, Any]) -> str:
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(payload).encode())}"
    signature = key._key.sign(signing_input.encode())
    return f"{signing_input}.{_b64(signature)}"


# (id, proof overrides, reason) - every row must be refused with invalid_dpop_proof.
PROOF_RULES: list[tuple[str, dict[str, Any], str]] = [
    ("typ missing", {"header": {"typ": OMIT}}, "bad_typ"),
    ("typ is jwt", {"header": {"typ": "JWT"}}, "bad_typ"),
    ("typ is at+jwt", {"header": {"typ": "at+jwt"}}, "bad_typ"),
    ("alg none", {"header": {"alg": "none"}}, "bad_alg"),
    ("alg HS256", {"header": {"alg": "HS256"}}, "bad_alg"),
    ("alg missing", {"header": {"alg": OMIT}}, "bad_alg"),
    ("crit present", {"header": {"crit": ["exp"]}}, "crit"),
    ("jwk missing", {"header": {"jwk": OMIT}}, "bad_jwk"),
    ("jwk not an object", {"header": {"jwk": "key"}}, "bad_jwk"),
    (
        "jwk of another kty",
        {"header": {"jwk": {"kty": "RSA", "n": "AQAB", "e": "AQAB"}}},
        "bad_jwk",
    ),
    ("jwk symmetric", {"header": {"jwk": {"kty": "oct", "k": "c2VjcmV0"}}}, "private_jwk"),
    ("jti missing", {"jti": OMIT}, "bad_jti"),
    ("jti empty", {"jti": ""}, "bad_jti"),
    ("jti not a string", {"jti": 7}, "bad_jti"),
    ("jti too long", {"jti": "j" * 257}, "bad_jti"),
    ("htm missing", {"htm": OMIT}, "bad_htm"),
    ("htm other method", {"htm": "POST"}, "bad_htm"),
    ("htm lower case", {"htm": "get"}, "bad_htm"),
    ("htu missing", {"htu": OMIT}, "bad_htu"),
    ("htu other host", {"htu": "https://evil.example.test/items"}, "bad_htu"),
    ("htu other path", {"htu": "https://api.example.test/admin"}, "bad_htu"),
    ("htu other scheme", {"htu": "http://api.example.test/items"}, "bad_htu"),
    ("htu other port", {"htu": "https://api.example.test:8443/items"}, "bad_htu"),
    ("htu relative", {"htu": "/items"}, "bad_htu"),
    ("htu with userinfo", {"htu": "https://u@api.example.test/items"}, "bad_htu"),
    ("htu not a string", {"htu": ["https://api.example.test/items"]}, "bad_htu"),
    ("iat missing", {"iat": OMIT}, "bad_iat"),
    ("iat a string", {"iat": str(int(NOW))}, "bad_iat"),
    ("iat a boolean", {"iat": True}, "bad_iat"),
    ("iat too old", {"iat": NOW - 61}, "stale_iat"),
    ("iat in the future", {"iat": NOW + 6}, "future_iat"),
    ("ath missing", {"ath": OMIT}, "bad_ath"),
    ("ath of another token", {"ath": access_token_hash("other.token.here")}, "bad_ath"),
    ("ath not a string", {"ath": 1}, "bad_ath"),
    ("nonce not a string", {"nonce": 5}, "bad_nonce"),
]


@pytest.mark.parametrize(
    ("overrides", "reason"), [r[1:] for r in PROOF_RULES], ids=[r[0] for r in PROOF_RULES]
)
def test_proof_rule_refuses(key: DPoPKey, overrides: dict[str, Any], reason: str) -> None:
    """Each broken proof rule is refused as invalid_dpop_proof with its reason."""
    proof = key.proof("GET", URL, TOKEN, **overrides)
    with pytest.raises(InvalidDPoPProof) as caught:
        _check(proof)
    assert caught.value.reason == reason
    assert (caught.value.status, caught.value.error) == (401, "invalid_dpop_proof")


# (id, proof text) - not a compact JWS at all.
MALFORMED = [
    ("empty", ""),
    ("one segment", "abc"),
    ("two segments", "abc.def"),
    ("four segments", "a.b.c.d"),
    ("not base64url", "a*b.c.d"),
    ("non-ascii", "é.b.c"),
    ("header not json", f"{_b64(b'nope')}.{_b64(b'{}')}.{_b64(b'sig')}"),
    ("header a list", f"{_b64(b'[]')}.{_b64(b'{}')}.{_b64(b'sig')}"),
    ("two proofs joined", "a.b.c,d.e.f"),
]


@pytest.mark.parametrize("proof", [m[1] for m in MALFORMED], ids=[m[0] for m in MALFORMED])
def test_malformed_proof_refused(proof: str) -> None:
    """A value that is not one compact JWS with a JSON header is malformed."""
    with pytest.raises(InvalidDPoPProof) as caught:
        _check(proof)
    assert caught.value.reason in {"malformed", "bad_typ"}


def test_duplicate_header_member_refused(key: DPoPKey) -> None:
    """A header naming alg twice is refused, so a second alg cannot hide behind the first."""
    head = (
        b'{"typ":"dpop+jwt","alg":"ES256","alg":"none","jwk":'
        + json.dumps(key.public_jwk).encode()
        + b"}"
    )
    body = json.dumps(
        {"jti": "j", "htm": "GET", "htu": URL, "iat": NOW, "ath": access_token_hash(TOKEN)}
    )
    signing_input = f"{_b64(head)}.{_b64(body.encode())}"
    proof = f"{signing_input}.{_b64(key._key.sign(signing_input.encode()))}"
    with pytest.raises(InvalidDPoPProof, match="malformed"):
        _check(proof)


def test_oversized_proof_refused_before_parsing(key: DPoPKey) -> None:
    """A proof longer than max_size is refused as too large."""
    proof = key.proof("GET", URL, TOKEN, padding="x" * 9000)
    with pytest.raises(InvalidDPoPProof) as caught:
        _check(proof)
    assert caught.value.reason == "too_large"


def test_private_key_in_jwk_refused(key: DPoPKey) -> None:
    """A jwk carrying the private member d is refused even though it would verify."""
    private = json.loads(ECAlgorithm.to_jwk(key._key.private_key))
    proof = key.proof("GET", URL, TOKEN, header={"jwk": private})
    with pytest.raises(InvalidDPoPProof) as caught:
        _check(proof)
    assert caught.value.reason == "private_jwk"


def test_signature_by_another_key_refused(key: DPoPKey) -> None:
    """A proof whose jwk is not the key that signed it fails the signature check."""
    proof = key.proof("GET", URL, TOKEN, header={"jwk": DPoPKey().public_jwk})
    with pytest.raises(InvalidDPoPProof) as caught:
        _check(proof)
    assert caught.value.reason == "bad_signature"


def test_tampered_payload_refused(key: DPoPKey) -> None:
    """Changing the payload after signing breaks the signature."""
    head, _, sig = key.proof("GET", URL, TOKEN).split(".")
    body = {"jti": "x", "htm": "GET", "htu": URL, "iat": NOW, "ath": access_token_hash(TOKEN)}
    with pytest.raises(InvalidDPoPProof, match="bad_signature"):
        _check(f"{head}.{_b64(json.dumps(body).encode())}.{sig}")


def test_algorithm_outside_configured_list_refused(key: DPoPKey) -> None:
    """An ES256 proof is refused when only RS256 is configured."""
    with pytest.raises(InvalidDPoPProof, match="bad_alg"):
        _check(key.proof("GET", URL, TOKEN), algorithms=("RS256",))


def test_curve_must_fit_algorithm() -> None:
    """An ES384 key presented under alg ES256 is refused (RFC 7518 section 3.4)."""
    es384 = DPoPKey("ES384", clock=lambda: NOW)
    header = {"typ": "dpop+jwt", "alg": "ES256", "jwk": es384.public_jwk}
    payload = {"jti": "j", "htm": "GET", "htu": URL, "iat": NOW, "ath": access_token_hash(TOKEN)}
    with pytest.raises(InvalidDPoPProof, match="bad_jwk"):
        _check(_resign(es384, header, payload))


def test_small_rsa_key_refused() -> None:
    """An RSA proof key under 2048 bits is refused."""
    small = DPoPKey.__new__(DPoPKey)
    small.algorithm, small.clock = "RS256", lambda: NOW
    small._key = SigningKey.generate("RS256", key_size=1024)
    small.public_jwk = {k: v for k, v in small._key.public_jwk.items() if k in ("kty", "n", "e")}
    with pytest.raises(InvalidDPoPProof, match="bad_jwk"):
        _check(small.proof("GET", URL, TOKEN))


@pytest.mark.parametrize(
    "algorithm", ["ES256", "ES384", "ES512", "RS256", "PS256", "EdDSA", "Ed25519"]
)
def test_each_supported_algorithm_verifies(algorithm: str) -> None:
    """Proofs signed with every supported asymmetric algorithm are accepted."""
    signer = DPoPKey(algorithm, clock=lambda: NOW)
    assert _check(signer.proof("GET", URL, TOKEN)).jkt == signer.jkt


# (id, htu in the proof, request URL) - equal after normalisation, so accepted.
HTU_EQUAL = [
    ("query and fragment ignored", "https://api.example.test/items?a=1#f", URL),
    ("request query ignored", URL, "https://api.example.test/items?page=2"),
    ("scheme and host case", "HTTPS://API.Example.TEST/items", URL),
    ("default port", "https://api.example.test:443/items", URL),
    ("dot segments", "https://api.example.test/a/../items", URL),
    ("unreserved escape", "https://api.example.test/%69tems", URL),
]


@pytest.mark.parametrize(("htu", "url"), [r[1:] for r in HTU_EQUAL], ids=[r[0] for r in HTU_EQUAL])
def test_htu_equal_after_normalisation_accepted(key: DPoPKey, htu: str, url: str) -> None:
    """An htu that differs only in ways RFC 3986 normalisation removes is accepted."""
    assert _check(key.proof("GET", htu, TOKEN), url=url).jkt == key.jkt


def test_iat_window_edges_accepted(key: DPoPKey) -> None:
    """iat exactly max_age old, or exactly leeway ahead, is still accepted."""
    _check(key.proof("GET", URL, TOKEN, iat=NOW - 60))
    _check(key.proof("GET", URL, TOKEN, iat=NOW + 5))
    _check(key.proof("GET", URL, TOKEN, iat=NOW - 100), max_age=120)


def test_no_access_token_skips_ath(key: DPoPKey) -> None:
    """At a token endpoint (no access token presented) a proof without ath is accepted."""
    assert _check(key.proof("POST", URL), method="POST", access_token=None).jkt == key.jkt


def test_nonce_check_receives_the_nonce(key: DPoPKey) -> None:
    """The nonce callback sees the proof's nonce, and its UseDPoPNonce propagates."""
    seen: list[str | None] = []
    result = _check(key.proof("GET", URL, TOKEN, nonce="n-1"), nonce_check=seen.append)
    assert seen == ["n-1"]
    assert result.nonce == "n-1"

    def refuse(nonce: str | None) -> None:
        raise UseDPoPNonce("fresh")

    with pytest.raises(UseDPoPNonce) as caught:
        _check(key.proof("GET", URL, TOKEN), nonce_check=refuse)
    assert caught.value.nonce == "fresh"
    assert caught.value.error == "use_dpop_nonce"


def test_thumbprint_matches_rfc7638_example() -> None:
    """The RFC 7638 section 3.1 example key has the thumbprint the RFC states."""
    jwk = {
        "kty": "RSA",
        "n": (
            "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1"
            "L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4"
            "QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbO"
            "pbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csF"
            "Cur-kEgU8awapJzKnqDKgw"
        ),
        "e": "AQAB",
        "alg": "RS256",
        "kid": "2011-04-29",
    }
    assert jwk_thumbprint(jwk) == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"


def test_binding_accepts_matching_jkt() -> None:
    """A token whose cnf.jkt is the proof key thumbprint is bound to it."""
    check_binding({"cnf": {"jkt": "abc"}}, "abc")


@pytest.mark.parametrize(
    ("claims", "reason"),
    [
        ({}, "dpop_unbound"),
        ({"token_type": "Bearer"}, "dpop_unbound"),
        ({"cnf": "abc"}, "uncheckable_binding"),
        ({"cnf": None}, "uncheckable_binding"),
        ({"cnf": {}}, "uncheckable_binding"),
        ({"cnf": {"x5t#S256": "abc"}}, "uncheckable_binding"),
        ({"cnf": {"jkt": "abc", "x5t#S256": "abc"}}, "uncheckable_binding"),
        ({"cnf": {"jkt": 5}}, "uncheckable_binding"),
        ({"cnf": {"jkt": ""}}, "uncheckable_binding"),
        ({"token_type": "dPoP"}, "uncheckable_binding"),
        ({"cnf": {"jkt": "other"}}, "dpop_key_mismatch"),
        ({"cnf": {"jkt": "ab\u00e9"}}, "dpop_key_mismatch"),
    ],
)
def test_binding_refuses(claims: dict[str, Any], reason: str) -> None:
    """A token not bound to the proof key is invalid_token (RFC 9449 section 6.1)."""
    with pytest.raises(InvalidToken) as caught:
        check_binding(claims, "abc")
    assert caught.value.reason == reason


def test_ath_is_base64url_sha256() -> None:
    """ath is the unpadded base64url SHA-256 of the ASCII token (RFC 9449 section 4.2)."""
    assert access_token_hash("Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU") == (
        "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo"
    )


def test_a_known_key_header_never_skips_the_signature(key: DPoPKey) -> None:
    """A proof reusing a client's (cached) header with another signature is still refused."""
    first = key.proof("GET", URL, TOKEN, jti="j-known-1")
    assert _check(first).jkt == key.jkt  # the header's key is now cached
    other = DPoPKey(clock=lambda: NOW).proof("GET", URL, TOKEN, jti="j-known-2")
    head = first.split(".")[0]
    body, signature = other.split(".")[1:]
    with pytest.raises(InvalidDPoPProof) as info:
        _check(f"{head}.{body}.{signature}")
    assert info.value.reason == "bad_signature"


def test_a_proof_spelled_non_canonically_is_malformed(key: DPoPKey) -> None:
    """A proof segment with non-zero spare bits (RFC 4648 3.5) is refused, as for tokens."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    proof = key.proof("GET", URL, TOKEN, jti="j-spelling")
    head, body, signature = proof.split(".")
    assert len(signature) % 4 in (2, 3)  # ES256: 64 bytes, 86 characters
    respelled = signature[:-1] + alphabet[alphabet.index(signature[-1]) + 1]
    with pytest.raises(InvalidDPoPProof) as info:
        _check(f"{head}.{body}.{respelled}")
    assert info.value.reason == "malformed"


def test_an_htu_that_only_normalises_equal_still_matches(key: DPoPKey) -> None:
    """htu differing from the request URL only by case and default port is accepted."""
    proof = key.proof("GET", "HTTPS://API.example.test:443/items?page=2", TOKEN, jti="j-norm")
    assert _check(proof).jti == "j-norm"


# Hostile JSON numbers, as literal text (issue 14, item 4): 400 digits, past
# float range, NaN and the infinities Python's parser accepts, booleans, and
# an integer longer than the parser allows.
HOSTILE_NUMBERS = [
    "1" + "0" * 400,
    "-" + "9" * 400,
    "1e400",
    "-1e400",
    "1e-400",
    "NaN",
    "Infinity",
    "-Infinity",
    "true",
    "false",
    "-1",
    "0",
    "1.5",
    "1e308",
    "1" * 5000,
]


def _raw_proof(key: DPoPKey, header: str, payload: str) -> str:
    signing_input = f"{_b64(header.encode())}.{_b64(payload.encode())}"
    return f"{signing_input}.{_b64(key._key.sign(signing_input.encode()))}"


def _with_member(document: dict[str, Any], path: tuple[str, ...], text: str) -> str:
    # The document as JSON text with the member at ``path`` replaced by ``text``.
    marker = "__HOSTILE__"
    copy = json.loads(json.dumps(document))
    target = copy
    for name in path[:-1]:
        target = target[name]
    target[path[-1]] = marker
    return json.dumps(copy).replace(f'"{marker}"', text)


@pytest.mark.parametrize("number", HOSTILE_NUMBERS, ids=lambda n: n[:12])
def test_hostile_iat_is_invalid_dpop_proof(key: DPoPKey, number: str) -> None:
    """Any hostile iat is invalid_dpop_proof (bad, stale or future), never an overflow."""
    header = {"typ": "dpop+jwt", "alg": "ES256", "jwk": key.public_jwk}
    payload = {"jti": "j", "htm": "GET", "htu": URL, "iat": NOW, "ath": access_token_hash(TOKEN)}
    proof = _raw_proof(key, json.dumps(header), _with_member(payload, ("iat",), number))
    with pytest.raises(InvalidDPoPProof) as caught:
        _check(proof)
    assert caught.value.reason in ("bad_iat", "stale_iat", "future_iat", "malformed")


MEMBERS = [
    ("header", ("typ",)),
    ("header", ("alg",)),
    ("header", ("jwk",)),
    ("header", ("jwk", "kty")),
    ("header", ("jwk", "crv")),
    ("header", ("jwk", "x")),
    ("header", ("jwk", "y")),
    ("header", ("kid",)),
    ("header", ("crit",)),
    ("payload", ("jti",)),
    ("payload", ("htm",)),
    ("payload", ("htu",)),
    ("payload", ("iat",)),
    ("payload", ("ath",)),
    ("payload", ("nonce",)),
    ("payload", ("exp",)),
]


@pytest.mark.parametrize("number", HOSTILE_NUMBERS, ids=lambda n: n[:12])
@pytest.mark.parametrize(("part", "path"), MEMBERS, ids=["/".join(m[1]) for m in MEMBERS])
def test_hostile_number_in_any_member_is_refused_or_ignored(
    key: DPoPKey, part: str, path: tuple[str, ...], number: str
) -> None:
    """A hostile number anywhere in a proof is invalid_dpop_proof or ignored, never a crash."""
    header = {"typ": "dpop+jwt", "alg": "ES256", "jwk": dict(key.public_jwk)}
    payload = {"jti": "j", "htm": "GET", "htu": URL, "iat": NOW, "ath": access_token_hash(TOKEN)}
    nonces: list[object] = []
    if part == "header":
        proof = _raw_proof(key, _with_member(header, path, number), json.dumps(payload))
    else:
        proof = _raw_proof(key, json.dumps(header), _with_member(payload, path, number))
    try:
        _check(proof, nonce_check=nonces.append)
    except InvalidDPoPProof:
        return
    # Accepted: only members the checks do not read (kid, exp) may hold it.
    assert path in (("kid",), ("exp",)), path
