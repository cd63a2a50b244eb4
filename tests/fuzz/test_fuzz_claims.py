"""Property tests of the claim checks: a payload is accepted exactly when it is valid.

``validate_claims`` is compared against an oracle written from the RFCs
(RFC 7519 section 4.1, RFC 9068 section 4), on payloads that start valid and
have any subset of their claims dropped, nulled or replaced by hostile values,
including numbers at and around the edges of the leeway window.
"""

from __future__ import annotations

import math
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from okta_bearer import BearerError, Claims, InvalidToken
from okta_bearer._jwt.validation import Policy, validate_claims

from ._profiles import fuzz_settings

ISSUER = "https://okta.example.test/oauth2/default"
AUDIENCES = frozenset({"api://default", "api://reports"})
CLIENT = "0oa1testclient"
#: What a NumericDate may be: a datetime between years 1 and 9999.
DATE_RANGE = (-62_135_596_800, 253_402_300_799)
ABSENT = object()


def numeric_date(value: object) -> float | None:
    """The value as seconds if it is a usable NumericDate (RFC 7519 section 2), else None."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if not DATE_RANGE[0] <= value <= DATE_RANGE[1]:
        return None
    return float(value)


def oracle(payload: dict[str, Any], policy: Policy, now: float) -> bool:
    """Whether a signature-verified payload is an acceptable access token at ``now``."""
    if payload.get("iss") != policy.issuer or not isinstance(payload.get("iss"), str):
        return False
    aud = payload.get("aud")
    if isinstance(aud, str):
        auds = [aud]
    elif isinstance(aud, list) and all(isinstance(a, str) for a in aud):
        auds = aud
    else:
        return False
    assert policy.audiences is not None  # the fuzzed policies always name an audience
    if not any(a in policy.audiences for a in auds):
        return False
    # A JSON null counts as absent (there is no date in it).
    exp = numeric_date(payload.get("exp"))
    if exp is None or not now < exp + policy.leeway:
        return False
    for name in ("nbf", "iat"):
        if payload.get(name) is not None and numeric_date(payload[name]) is None:
            return False
    nbf = numeric_date(payload.get("nbf"))
    if nbf is not None and (nbf > exp or nbf > now + policy.leeway):
        return False
    iat = numeric_date(payload.get("iat"))
    if iat is not None and iat > now + policy.leeway:
        return False
    if policy.max_token_age is not None and (
        iat is None or now - iat > policy.max_token_age + policy.leeway
    ):
        return False
    if policy.client_ids is not None:
        cid = payload["cid"] if "cid" in payload else payload.get("client_id")
        if not isinstance(cid, str) or cid not in policy.client_ids:
            return False
    # Okta's scp: a list of strings (a string is tolerated); else RFC 9068's scope string.
    scp = payload.get("scp")
    if scp is not None:
        return isinstance(scp, str) or (
            isinstance(scp, list) and all(isinstance(s, str) for s in scp)
        )
    scope = payload.get("scope")
    return scope is None or isinstance(scope, str)


hostile_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=10**15, max_value=10**40),
    st.floats(),
    st.text(max_size=20),
    st.lists(st.text(max_size=10) | st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
    st.sampled_from([ISSUER, ISSUER + "/", "api://default", "api://other", CLIENT]),
)


@st.composite
def timed(draw: st.DrawFn, now: float, leeway: float) -> float:
    """A NumericDate at or near an edge that matters: now, now +/- leeway, +/- a little."""
    offset = draw(st.sampled_from([0.0, leeway, -leeway, 3600.0, -3600.0, 600.0]))
    jitter = draw(st.sampled_from([0.0, 1.0, -1.0, 0.5, -0.5, 1e-6, -1e-6]))
    value = now + offset + jitter
    return int(value) if draw(st.booleans()) and value.is_integer() else value


#: "now" anywhere from 1970 to 2096.
ANY_TIME = st.integers(0, 4_000_000_000)
policies = st.builds(
    Policy,
    issuer=st.just(ISSUER),
    audiences=st.just(AUDIENCES),
    leeway=st.sampled_from([0.0, 1.0, 30.0, 300.0]),
    max_token_age=st.none() | st.sampled_from([1.0, 600.0, 86400.0]),
    client_ids=st.none() | st.just(frozenset({CLIENT})),
)


def valid_payload(now: float) -> dict[str, Any]:
    """Claims that every policy drawn by ``policies`` accepts at ``now``."""
    return {
        "iss": ISSUER,
        "aud": "api://default",
        "exp": now + 3600,
        "iat": now,
        "nbf": now - 10,
        "cid": CLIENT,
        "sub": "alice@example.com",
        "scp": ["items:read"],
    }


@st.composite
def near_valid(
    draw: st.DrawFn,
    policy_strategy: st.SearchStrategy[Policy] = policies,
    now_strategy: st.SearchStrategy[int] = ANY_TIME,
) -> tuple[dict[str, Any], Policy, float]:
    """A valid payload with one to three claims dropped, nulled, re-timed or made hostile."""
    policy = draw(policy_strategy)
    now = float(draw(now_strategy))
    payload = valid_payload(now)
    if draw(st.booleans()):
        payload["aud"] = ["api://x", "api://reports"]
    names = ["iss", "aud", "exp", "nbf", "iat", "cid", "client_id", "scp"]
    for name in draw(st.lists(st.sampled_from(names), min_size=1, max_size=3, unique=True)):
        action = draw(st.sampled_from(["drop", "null", "time", "time", "hostile"]))
        if action == "drop":
            payload.pop(name, None)
        elif action == "null":
            payload[name] = None
        elif action == "time":
            payload[name] = draw(timed(now, policy.leeway))
        else:
            payload[name] = draw(hostile_values)
    return payload, policy, now


@fuzz_settings()
@given(
    policies,
    st.integers(0, 4_000_000_000),
    st.sampled_from(["exp", "nbf", "iat"]),
    st.sampled_from([-1, 0, 1]),
    st.sampled_from([0, 1, -1, 0.5, -0.5]),
)
def test_time_claims_at_the_leeway_edges(
    policy: Policy, now: int, name: str, side: int, jitter: float
) -> None:
    """exp/nbf/iat exactly at, just inside and just outside now +/- leeway match the oracle."""
    payload = valid_payload(float(now))
    payload[name] = now + side * policy.leeway + jitter
    expected = oracle(payload, policy, float(now))
    try:
        validate_claims(payload, policy, float(now))
    except InvalidToken:
        assert not expected, (name, payload[name] - now)
        return
    assert expected, (name, payload[name] - now)


@fuzz_settings()
@given(near_valid())
def test_accepted_exactly_when_the_oracle_accepts(
    case: tuple[dict[str, Any], Policy, float],
) -> None:
    """validate_claims accepts a payload iff the RFC oracle does, and raises only InvalidToken."""
    payload, policy, now = case
    expected = oracle(payload, policy, now)
    try:
        claims = validate_claims(payload, policy, now)
    except InvalidToken:
        assert not expected, payload
        return
    assert expected, payload
    assert isinstance(claims, Claims)
    assert claims.issuer == ISSUER
    assert not AUDIENCES.isdisjoint(claims.audience)


@fuzz_settings()
@given(
    st.dictionaries(
        st.sampled_from(["iss", "aud", "exp", "nbf", "iat", "cid", "client_id", "scp", "scope"])
        | st.text(max_size=5),
        hostile_values,
    ),
    policies,
    st.floats(allow_nan=False, allow_infinity=False, min_value=-1e12, max_value=1e12),
)
def test_arbitrary_payloads_raise_only_bearer_errors(
    payload: dict[str, Any], policy: Policy, now: float
) -> None:
    """Any claim set is accepted or refused with a BearerError; nothing else escapes."""
    try:
        validate_claims(payload, policy, now)
    except BearerError:
        return
    assert oracle(payload, policy, now)
