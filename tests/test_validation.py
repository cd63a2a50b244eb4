"""The pure claim checks, one table per rule, with a fixed clock."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from typing import Any

import pytest

from okta_bearer import InsufficientScope, InvalidToken
from okta_bearer._jwt.claims import Claims, scopes_of
from okta_bearer._jwt.validation import Policy, check_scopes, validate_claims

NOW = 1_700_000_000.0
ISS = "https://example.okta.com/oauth2/default"
POLICY = Policy(issuer=ISS, audiences=frozenset({"api://default"}), leeway=30.0)


def payload(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "iss": ISS,
        "aud": "api://default",
        "iat": NOW - 10,
        "exp": NOW + 3600,
        "cid": "0oa1",
        "uid": "00u1",
        "sub": "alice@example.com",
        "scp": ["openid", "items:read"],
        "jti": "AT.1",
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not ...}


def test_valid_payload_gives_claims() -> None:
    """A complete Okta-shaped payload yields typed claims."""
    claims = validate_claims(payload(), POLICY, NOW)
    assert claims.sub == "alice@example.com"
    assert claims.scopes == frozenset({"openid", "items:read"})
    assert claims.client_id == "0oa1"
    assert claims.uid == "00u1"
    assert claims.issuer == ISS
    assert claims.audience == ("api://default",)
    assert claims.expires_at.timestamp() == NOW + 3600
    assert claims.issued_at is not None
    assert claims.issued_at.timestamp() == NOW - 10
    assert claims.jti == "AT.1"
    assert claims.raw["cid"] == "0oa1"


def test_claims_from_a_payload_are_frozen_claims_like_hand_built_ones() -> None:
    """from_payload's fast construction gives a true, frozen Claims equal to the dataclass way."""
    claims = Claims.from_payload(payload())
    assert type(claims) is Claims
    by_hand = Claims(
        claims.sub,
        claims.scopes,
        claims.client_id,
        claims.uid,
        claims.issuer,
        claims.audience,
        claims.expires_at,
        claims.issued_at,
        claims.jti,
        claims.raw,
    )
    assert claims == by_hand
    assert repr(claims) == repr(by_hand)
    with pytest.raises(dataclasses.FrozenInstanceError):
        claims.sub = "mallory"  # type: ignore[misc]
    with pytest.raises(TypeError):
        claims.raw["scp"] = ["admin"]  # type: ignore[index]

    @dataclasses.dataclass(frozen=True, slots=True)
    class Tagged(Claims):
        tag: str = "x"

    tagged = Tagged.from_payload(payload())
    assert type(tagged) is Tagged
    assert tagged.sub == claims.sub


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"iss": ...}, "missing_claim"),
        ({"iss": ISS + "/"}, "bad_issuer"),
        ({"iss": "https://example.okta.com"}, "bad_issuer"),
        ({"iss": 42}, "bad_issuer"),
        ({"iss": [ISS]}, "bad_issuer"),
        ({"aud": ...}, "missing_claim"),
        ({"aud": "api://other"}, "bad_audience"),
        ({"aud": ["api://other", "x"]}, "bad_audience"),
        ({"aud": []}, "bad_audience"),
        ({"aud": 5}, "bad_claim"),
        ({"aud": ["api://default", 5]}, "bad_claim"),
        ({"exp": ...}, "missing_claim"),
        ({"exp": str(int(NOW + 3600))}, "bad_claim"),
        ({"exp": True}, "bad_claim"),
        ({"exp": float("inf")}, "bad_claim"),
        ({"exp": NOW - 31}, "expired"),
        ({"exp": NOW - 30}, "expired"),
        ({"nbf": NOW + 31}, "not_yet_valid"),
        ({"nbf": "soon"}, "bad_claim"),
        ({"nbf": NOW + 7200}, "bad_lifetime"),
        ({"iat": NOW + 31}, "issued_in_future"),
        ({"iat": False}, "bad_claim"),
    ],
)
def test_claim_rejections(overrides: dict[str, Any], reason: str) -> None:
    """Each wrong, missing or mistyped claim is rejected with its own reason."""
    with pytest.raises(InvalidToken) as info:
        validate_claims(payload(**overrides), POLICY, NOW)
    assert info.value.reason == reason
    assert info.value.status == 401
    assert info.value.error == "invalid_token"


@pytest.mark.parametrize(
    "overrides",
    [
        {"exp": NOW - 29},  # expired, but within the 30 s leeway
        {"nbf": NOW + 29},
        {"iat": NOW + 29},
        {"aud": ["api://other", "api://default"]},
        {"uid": ...},  # client-credentials tokens carry no uid
        {"scp": ...},
        {"extra": {"nested": [1, 2]}},  # unknown claims are ignored
    ],
)
def test_claim_acceptances(overrides: dict[str, Any]) -> None:
    """Edge values inside the leeway and optional claims are accepted."""
    validate_claims(payload(**overrides), POLICY, NOW)


def test_exp_equal_to_now_is_expired_without_leeway() -> None:
    """RFC 7519 4.1.4: the current time must be before exp, so exp == now fails."""
    policy = Policy(issuer=ISS, audiences=frozenset({"api://default"}), leeway=0)
    with pytest.raises(InvalidToken, match="expired"):
        validate_claims(payload(exp=NOW), policy, NOW)
    validate_claims(payload(exp=NOW + 1), policy, NOW)


def test_several_audiences_accept_any_of_them() -> None:
    """With several configured audiences a token needs just one of them."""
    policy = Policy(issuer=ISS, audiences=frozenset({"api://a", "api://b"}), leeway=0)
    validate_claims(payload(aud="api://b"), policy, NOW)
    with pytest.raises(InvalidToken, match="bad_audience"):
        validate_claims(payload(aud="api://c"), policy, NOW)


def test_max_token_age() -> None:
    """With a maximum age, iat is required and old tokens are rejected."""
    policy = Policy(issuer=ISS, audiences=frozenset({"api://default"}), leeway=0, max_token_age=60)
    validate_claims(payload(iat=NOW - 60), policy, NOW)
    with pytest.raises(InvalidToken, match="too_old"):
        validate_claims(payload(iat=NOW - 61), policy, NOW)
    with pytest.raises(InvalidToken, match="missing_claim"):
        validate_claims(payload(iat=...), policy, NOW)


@pytest.mark.parametrize(
    ("overrides", "accepted"),
    [
        ({"cid": "0oa1"}, True),
        ({"cid": "0oa2"}, False),
        ({"cid": ...}, False),
        ({"cid": ..., "client_id": "0oa1"}, True),
        ({"cid": 7}, False),
    ],
)
def test_client_allow_list(overrides: dict[str, Any], accepted: bool) -> None:
    """The cid (else client_id) must be in the allow-list when one is configured."""
    policy = Policy(
        issuer=ISS, audiences=frozenset({"api://default"}), leeway=0, client_ids=frozenset({"0oa1"})
    )
    if accepted:
        validate_claims(payload(**overrides), policy, NOW)
    else:
        with pytest.raises(InvalidToken, match="bad_client"):
            validate_claims(payload(**overrides), policy, NOW)


@pytest.mark.parametrize(
    ("claims", "scopes"),
    [
        ({"scp": ["a", "b"]}, {"a", "b"}),
        ({"scope": "a b  c"}, {"a", "b", "c"}),
        ({"scope": "a\tb c\nd"}, {"a\tb", "c\nd"}),
        ({"scope": " "}, set()),
        ({"scp": "a b"}, {"a", "b"}),
        ({"scp": ["a"], "scope": "b"}, {"a"}),
        ({"scp": []}, set()),
        ({}, set()),
    ],
)
def test_scopes_from_scp_or_scope(claims: dict[str, Any], scopes: set[str]) -> None:
    """Scopes come from Okta's scp list, else the RFC 9068 scope string split on spaces only."""
    assert scopes_of(claims) == frozenset(scopes)


@pytest.mark.parametrize(
    "overrides",
    [
        {"scp": 5},
        {"scp": ["a", 3]},
        {"scp": ["a", None]},
        {"scp": [["a"]]},
        {"scp": {"a": 1}},
        {"scp": ..., "scope": ["a", "b"]},
        {"scp": ..., "scope": {"a": 1}},
        {"scp": ..., "scope": 7},
    ],
)
def test_malformed_scope_claims_are_invalid_tokens(overrides: dict[str, Any]) -> None:
    """A scope claim of the wrong shape is 401 invalid_token (bad_claim), not a 403."""
    with pytest.raises(InvalidToken) as info:
        validate_claims(payload(**overrides), POLICY, NOW)
    assert info.value.reason == "bad_claim"
    assert info.value.status == 401


def test_check_scopes_is_exact_and_requires_all() -> None:
    """Every required scope must be held, compared case-sensitively."""
    claims = Claims.from_payload(payload(scp=["items:read", "a"]))
    check_scopes(claims, ["items:read", "a"])
    for required in (["items:READ"], ["items"], ["items:read", "b"]):
        with pytest.raises(InsufficientScope) as info:
            check_scopes(claims, required)
        assert info.value.required == tuple(required)
        assert info.value.status == 403


def test_claims_are_immutable() -> None:
    """Claims cannot be changed after verification."""
    claims = Claims.from_payload(payload())
    with pytest.raises(AttributeError):
        claims.sub = "mallory"  # type: ignore[misc]
    with pytest.raises(TypeError):
        claims.raw["sub"] = "mallory"  # type: ignore[index]


def test_nested_claims_cannot_be_changed_through_a_shared_claims_object() -> None:
    """Nested lists and objects in raw are immutable, so the cache cannot be poisoned."""
    claims = validate_claims(
        payload(groups=["staff"], cnf={"jkt": "abc", "x": [1, {"y": 2}]}), POLICY, NOW
    )
    groups = claims.raw["groups"]
    cnf = claims.raw["cnf"]
    assert groups == ("staff",)
    with pytest.raises((TypeError, AttributeError)):
        groups.append("admin")
    mutations: list[Callable[[], object]] = [
        lambda: cnf.__setitem__("jkt", "evil"),
        lambda: cnf.update(jkt="evil"),
        lambda: cnf.pop("jkt"),
        lambda: cnf.clear(),
        lambda: cnf.setdefault("new", 1),
        lambda: cnf["x"][1].__setitem__("y", 3),
    ]
    for mutate in mutations:
        with pytest.raises(TypeError):
            mutate()
    assert cnf == {"jkt": "abc", "x": (1, {"y": 2})}
    assert json.loads(json.dumps(dict(claims.raw)))["cnf"]["x"] == [1, {"y": 2}]


@pytest.mark.parametrize(
    ("overrides", "context"),
    [
        ({"iss": "https://other.example"}, {"got": "https://other.example"}),
        ({"aud": "api://other"}, {"got": "api://other"}),
    ],
)
def test_refusals_carry_expected_and_got(
    overrides: dict[str, Any], context: dict[str, str]
) -> None:
    """An issuer or audience refusal says what was expected and what the token held."""
    with pytest.raises(InvalidToken) as info:
        validate_claims(payload(**overrides), POLICY, NOW)
    assert info.value.context["got"] == context["got"]
    assert info.value.context["expected"]


def test_claims_expose_the_dpop_key_thumbprint() -> None:
    """Claims.jkt is the token's cnf.jkt, or None for an unbound or malformed cnf."""
    assert validate_claims(payload(cnf={"jkt": "abc"}), POLICY, NOW).jkt == "abc"
    assert validate_claims(payload(), POLICY, NOW).jkt is None
    assert validate_claims(payload(cnf="abc"), POLICY, NOW).jkt is None
    assert validate_claims(payload(cnf={"jkt": 5}), POLICY, NOW).jkt is None
