"""End-to-end properties of TokenVerifier.verify on real signed tokens.

* A valid token with one character replaced, deleted, inserted or swapped is
  never accepted, unless the change is a no-op: the header and payload text
  are untouched and the signature decodes to the same bytes (base64url's
  spare low bits in the last character of a segment).
* A token signed by the issuer is accepted exactly when its claims are valid
  by the oracle of ``test_fuzz_claims``.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from okta_bearer import BearerError, KeysUnavailable, TokenVerifier
from okta_bearer._jwt.validation import Policy
from okta_bearer.testing import LocalIssuer, SigningKey

from ._profiles import fuzz_settings
from .test_fuzz_claims import AUDIENCES, CLIENT, ISSUER, near_valid, oracle

NOW = 1_700_000_000
LEEWAY = 30.0
ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def clock() -> float:
    """The fixed time of these tests."""
    return float(NOW)


@dataclass
class Harness:
    """A warm verifier on a private event loop, and the keys of its issuer."""

    loop: asyncio.AbstractEventLoop
    issuer: LocalIssuer
    verifier: TokenVerifier
    keys: dict[str, SigningKey]

    def verify(self, token: str) -> Any:
        """Run one verification to completion."""
        return self.loop.run_until_complete(self.verifier.verify(token))


@pytest.fixture(scope="module")
def harness() -> Iterator[Harness]:
    """An RS256 + ES256 issuer and a verifier with its keys cached and no token cache."""
    loop = asyncio.new_event_loop()
    issuer = LocalIssuer(ISSUER, "api://default", client_id=CLIENT, clock=clock)
    es256 = SigningKey.generate("ES256", kid="ec-1")
    rs256 = issuer.signing_key
    issuer.keys = [es256, rs256]
    verifier = TokenVerifier(
        ISSUER,
        sorted(AUDIENCES),
        algorithms=("RS256", "ES256"),
        transport=issuer.transport(),
        clock=clock,
        leeway=LEEWAY,
        token_cache_size=0,
    )
    h = Harness(loop, issuer, verifier, {"RS256": rs256, "ES256": es256})
    for key in h.keys.values():
        h.verify(issuer.mint(key=key))  # warm the key cache; proves the tokens are valid
    yield h
    loop.run_until_complete(verifier.aclose())
    loop.close()


def unb64(segment: str) -> bytes | None:
    """Decode unpadded base64url, or None if it is not decodable."""
    try:
        return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    except ValueError:
        return None


@st.composite
def mutations(draw: st.DrawFn, token: str) -> str:
    """``token`` with one character replaced, deleted, inserted, or two swapped."""
    position = draw(st.integers(0, len(token) - 1))
    char = draw(st.sampled_from(ALPHABET + ".=") | st.characters(codec="ascii"))
    kind = draw(st.sampled_from(["replace", "delete", "insert", "swap"]))
    if kind == "replace":
        return token[:position] + char + token[position + 1 :]
    if kind == "delete":
        return token[:position] + token[position + 1 :]
    if kind == "insert":
        return token[:position] + char + token[position:]
    other = draw(st.integers(0, len(token) - 1))
    chars = list(token)
    chars[position], chars[other] = chars[other], chars[position]
    return "".join(chars)


def is_no_op(original: str, mutated: str) -> bool:
    """Whether ``mutated`` carries the very same signed content and signature bytes."""
    parts = mutated.split(".")
    if len(parts) != 3:
        return False
    head, body, sig = original.split(".")
    return parts[0] == head and parts[1] == body and unb64(parts[2]) == unb64(sig)


@fuzz_settings(scale=0.5)
@given(st.sampled_from(["RS256", "ES256"]), st.data())
def test_one_character_mutations_are_never_accepted(
    harness: Harness, alg: str, data: st.DataObject
) -> None:
    """A mutated valid token is refused (with a token-free error) unless the mutation is a no-op."""
    token = harness.issuer.mint(key=harness.keys[alg])
    mutated = data.draw(mutations(token))
    assume(mutated != token)
    message = None
    try:
        harness.verify(mutated)
    except KeysUnavailable:  # pragma: no cover - the keys are cached and the clock is fixed
        raise AssertionError("keys went missing") from None
    except BearerError as error:
        message = str(error)
    if message is None:
        assert is_no_op(token, mutated), mutated
        return
    assert not any(p in message for p in mutated.split(".") if len(p) >= 8), message


VERIFIER_POLICY = Policy(ISSUER, AUDIENCES, LEEWAY)


@fuzz_settings(scale=0.5)
@given(
    st.sampled_from(["RS256", "ES256"]),
    near_valid(st.just(VERIFIER_POLICY), st.just(NOW)),
)
def test_signed_tokens_are_accepted_exactly_when_their_claims_are_valid(
    harness: Harness, alg: str, case: tuple[dict[str, Any], Policy, float]
) -> None:
    """verify() accepts an issuer-signed token iff the claims oracle does; errors are typed."""
    payload, policy, now = case
    token = harness.issuer.sign(payload, key=harness.keys[alg])
    expected = oracle(payload, policy, now)
    try:
        claims = harness.verify(token)
    except KeysUnavailable:  # pragma: no cover - the keys are cached and the clock is fixed
        raise AssertionError("keys went missing") from None
    except BearerError:
        assert not expected, payload
        return
    assert expected, payload
    assert claims.issuer == ISSUER
