"""Hypothesis properties of the DPoP proof parser and the htu normaliser.

Whatever the input, the only exceptions are the documented ones, and a proof
that is accepted satisfies every rule of RFC 9449 section 4.3.
"""

from __future__ import annotations

import base64
import contextlib
import json
from typing import Any

from hypothesis import find, given, settings
from hypothesis import strategies as st

from okta_bearer import InvalidRequest
from okta_bearer._dpop.proof import InvalidDPoPProof, access_token_hash, check_proof
from okta_bearer._dpop.url import normalize_htu, request_url
from okta_bearer._testing.dpop import DPoPKey

from ..fuzz._profiles import fuzz_settings

NOW = 1_700_000_000.0
URL = "https://api.example.test/items"
TOKEN = "a.b.c"
KEY = DPoPKey(clock=lambda: NOW)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


json_scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)


def _choice(good: Any, *others: Any) -> st.SearchStrategy[Any]:
    # Mostly the valid value, sometimes a near miss, sometimes anything at all.
    return st.sampled_from([good, *others]) | json_values


@st.composite
def proofs(draw: st.DrawFn) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """A proof signed by KEY whose members are each valid, nearly valid or random."""
    header = {
        "typ": draw(_choice("dpop+jwt", "DPOP+JWT", "jwt", "application/dpop+jwt")),
        "alg": draw(_choice("ES256", "none", "HS256", "RS256", "ES384")),
        "jwk": draw(_choice(KEY.public_jwk, {**KEY.public_jwk, "d": "AA"}, {"kty": "EC"})),
    }
    if draw(st.booleans()):
        header["crit"] = draw(json_values)
    payload = {
        "jti": draw(_choice("id-1", "", "x" * 300)),
        "htm": draw(_choice("GET", "get", "POST")),
        "htu": draw(_choice(URL, URL + "?q#f", "HTTPS://API.example.test:443/items", "/items")),
        "iat": draw(_choice(NOW, NOW - 60, NOW + 5, NOW - 61, NOW + 6, True, float("nan"))),
        "ath": draw(_choice(access_token_hash(TOKEN), access_token_hash("x.y.z"))),
    }
    if draw(st.booleans()):
        payload["nonce"] = draw(json_values)
    drop = draw(st.sets(st.sampled_from(sorted(header) + sorted(payload)), max_size=2))
    header = {k: v for k, v in header.items() if k not in drop}
    payload = {k: v for k, v in payload.items() if k not in drop}
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(payload).encode())}"
    signature = KEY._key.sign(signing_input.encode())
    return f"{signing_input}.{_b64(signature)}", header, payload


@fuzz_settings(0.5)
@given(proofs())
def test_accepted_proofs_satisfy_every_rule(
    case: tuple[str, dict[str, Any], dict[str, Any]],
) -> None:
    """A proof is either refused with InvalidDPoPProof or meets all of RFC 9449 4.3."""
    proof, header, payload = case
    try:
        result = check_proof(proof, method="GET", url=URL, now=NOW, access_token=TOKEN)
    except InvalidDPoPProof:
        return
    assert str(header["typ"]).lower() in ("dpop+jwt", "application/dpop+jwt")
    assert header["alg"] == "ES256"
    assert header["jwk"] == KEY.public_jwk
    assert "crit" not in header
    assert result.jkt == KEY.jkt
    assert isinstance(payload["jti"], str)
    assert 0 < len(payload["jti"]) <= 256
    assert payload["htm"] == "GET"
    assert normalize_htu(payload["htu"]) == normalize_htu(URL)
    assert payload["iat"] is not True
    assert NOW - 60 <= payload["iat"] <= NOW + 5
    assert payload["ath"] == access_token_hash(TOKEN)


@fuzz_settings()
@given(st.text(max_size=300) | st.binary(max_size=300).map(lambda b: _b64(b) + "." + _b64(b)))
def test_arbitrary_text_only_raises_invalid_proof(text: str) -> None:
    """Any string as a proof ends in InvalidDPoPProof, never another exception."""
    with contextlib.suppress(InvalidDPoPProof):
        check_proof(text, method="GET", url=URL, now=NOW, access_token=TOKEN)


@fuzz_settings()
@given(json_values, json_values)
def test_arbitrary_json_segments_only_raise_invalid_proof(header: Any, payload: Any) -> None:
    """Any JSON header and payload (unsigned) end in InvalidDPoPProof."""
    proof = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(payload).encode())}.c2ln"
    with contextlib.suppress(InvalidDPoPProof):
        check_proof(proof, method="GET", url=URL, now=NOW, access_token=TOKEN)


@fuzz_settings()
@given(st.dictionaries(st.sampled_from(["kty", "crv", "x", "y", "n", "e", "alg"]), json_values))
def test_arbitrary_jwk_only_raises_invalid_proof(jwk: dict[str, Any]) -> None:
    """Any jwk object in an otherwise valid proof ends in InvalidDPoPProof or a bad signature."""
    for alg in ("ES256", "RS256", "EdDSA"):
        proof = KEY.proof("GET", URL, TOKEN, header={"jwk": jwk, "alg": alg})
        try:
            check_proof(proof, method="GET", url=URL, now=NOW, access_token=TOKEN)
        except InvalidDPoPProof:
            continue
        raise AssertionError("a foreign jwk verified KEY's signature")


urlish = st.text(alphabet="htps:/[]@%.?#-_~aA0:9 \t\u00e9", max_size=40) | st.from_regex(
    r"https?://[a-zA-Z0-9.\-]{0,10}(:[0-9]{0,6})?(/[a-zA-Z0-9.%~_\-]{0,6}){0,4}(\?.{0,5})?",
    fullmatch=True,
)


@fuzz_settings()
@given(urlish)
def test_normalize_htu_total_and_idempotent(url: str) -> None:
    """normalize_htu never raises, and normalising twice changes nothing."""
    once = normalize_htu(url)
    if once is not None:
        assert normalize_htu(once) == once


@fuzz_settings()
@given(st.binary(max_size=40), st.binary(max_size=40))
def test_request_url_from_any_host_is_host_port_or_refused(host: bytes, path: bytes) -> None:
    """Any Host header gives a URL whose authority is host[:port], or InvalidRequest."""
    scope = {"scheme": "https", "path": "/", "raw_path": b"/" + path, "headers": [(b"host", host)]}
    try:
        url = request_url(scope)
    except InvalidRequest:
        return
    authority = url[len("https://") :].split("/", 1)[0]
    assert authority == host.decode("latin-1").strip()
    assert not set("/?#@ ") & set(authority)


def test_proof_strategy_reaches_accepted_proofs() -> None:
    """The proof strategy does produce accepted proofs, so the property above is not vacuous."""

    def accepted(case: tuple[str, dict[str, Any], dict[str, Any]]) -> bool:
        try:
            check_proof(case[0], method="GET", url=URL, now=NOW, access_token=TOKEN)
        except InvalidDPoPProof:
            return False
        return True

    assert accepted(find(proofs(), accepted, settings=settings(database=None, max_examples=2000)))
