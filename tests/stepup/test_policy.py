"""RFC 9470 step-up: the pure policy check and its challenge."""

from __future__ import annotations

from typing import Any

import pytest

from okta_bearer import ConfigurationError, InsufficientUserAuthentication
from okta_bearer._http.rfc6750 import challenge
from okta_bearer._http.stepup import StepUpPolicy

NOW = 1_800_000_000
MFA = "urn:okta:loa:2fa:any"
PWD = "urn:okta:loa:1fa:pwd"


@pytest.mark.parametrize(
    ("acr_values", "max_age", "claims"),
    [
        ((), None, {}),
        ((MFA,), None, {"acr": MFA}),
        ((MFA, "phr"), None, {"acr": "phr"}),
        ((), 300, {"auth_time": NOW - 300}),
        ((), 300, {"auth_time": NOW}),
        ((), 0, {"auth_time": NOW}),
        ((MFA,), 60, {"acr": MFA, "auth_time": NOW - 10.5}),
    ],
)
def test_satisfied(
    acr_values: tuple[str, ...], max_age: int | None, claims: dict[str, Any]
) -> None:
    """A listed acr and an auth_time within max_age pass."""
    StepUpPolicy(acr_values, max_age).check(claims, NOW)


@pytest.mark.parametrize(
    ("acr_values", "max_age", "claims", "reason"),
    [
        ((MFA,), None, {"acr": PWD}, "acr_not_accepted"),
        ((MFA,), None, {}, "acr_not_accepted"),
        ((MFA,), None, {"acr": "URN:OKTA:LOA:2FA:ANY"}, "acr_not_accepted"),
        ((MFA,), None, {"acr": [MFA]}, "acr_not_accepted"),
        ((), 300, {"auth_time": NOW - 301}, "auth_too_old"),
        ((), 300, {}, "no_auth_time"),
        ((), 300, {"auth_time": "1800000000"}, "no_auth_time"),
        ((), 300, {"auth_time": True}, "no_auth_time"),
        ((), 300, {"auth_time": None}, "no_auth_time"),
        ((), 300, {"auth_time": float("nan")}, "no_auth_time"),
        ((), 300, {"auth_time": float("inf")}, "no_auth_time"),
        ((), 300, {"auth_time": float("-inf")}, "no_auth_time"),
        ((), 300, {"auth_time": 10**400}, "no_auth_time"),
        ((MFA,), 300, {"acr": MFA, "auth_time": NOW - 3600}, "auth_too_old"),
    ],
)
def test_refused(
    acr_values: tuple[str, ...], max_age: int | None, claims: dict[str, Any], reason: str
) -> None:
    """An unlisted or missing acr, or a missing, malformed or old auth_time is refused."""
    with pytest.raises(InsufficientUserAuthentication) as caught:
        StepUpPolicy(acr_values, max_age).check(claims, NOW)
    error = caught.value
    assert (error.status, error.error, error.reason) == (
        401,
        "insufficient_user_authentication",
        reason,
    )
    assert (error.acr_values, error.max_age) == (acr_values, max_age)


@pytest.mark.parametrize(
    ("acr_values", "max_age", "option"),
    [
        (MFA, None, "acr_values"),
        (["two words"], None, "acr_values"),
        (['q"uote'], None, "acr_values"),
        ([""], None, "acr_values"),
        ([1], None, "acr_values"),
        ((), -1, "max_age"),
        ((), True, "max_age"),
        ((), 1.5, "max_age"),
    ],
)
def test_bad_policy_is_a_configuration_error(acr_values: Any, max_age: Any, option: str) -> None:
    """acr_values must be writable in a challenge; max_age a non-negative integer."""
    with pytest.raises(ConfigurationError, match=option):
        StepUpPolicy(acr_values, max_age)


def test_challenge_carries_acr_values_and_max_age() -> None:
    """RFC 9470 section 3: the 401 names the error, acr_values and max_age (quoted)."""
    error = InsufficientUserAuthentication(
        "acr_not_accepted",
        "A stronger authentication is required",
        acr_values=(MFA, "phr"),
        max_age=300,
    )
    assert challenge(error, realm="api", resource_metadata="https://api.example/m") == (
        'Bearer realm="api", error="insufficient_user_authentication", '
        'error_description="A stronger authentication is required", '
        f'acr_values="{MFA} phr", max_age="300", resource_metadata="https://api.example/m"'
    )


def test_challenge_with_only_max_age() -> None:
    """A recency-only rule names max_age and no acr_values."""
    error = InsufficientUserAuthentication(
        "auth_too_old", "A more recent authentication is required", max_age=0
    )
    value = challenge(error, realm=None)
    assert value.endswith(
        'error_description="A more recent authentication is required", max_age="0"'
    )
    assert "acr_values" not in value
