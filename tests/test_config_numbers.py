"""Numbers in configuration can be huge, negative, floats or bools: always a ConfigurationError."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from okta_bearer import ConfigurationError, IntrospectionVerifier, KeyPolicy, TokenVerifier

ISS = "https://example.okta.com/oauth2/default"

HOSTILE: dict[str, Any] = {
    "400-digit": 10**400,
    "minus-400-digit": -(10**400),
    "5000-digit": 10**5000,
    "nan": float("nan"),
    "inf": float("inf"),
    "1e308": 1e308,
    "true": True,
    "string": "5",
}

BUILDERS: dict[str, Callable[[Any], object]] = {
    "leeway": lambda v: TokenVerifier(ISS, "api://default", leeway=v),
    "max_token_age": lambda v: TokenVerifier(ISS, "api://default", max_token_age=v),
    "max_token_size": lambda v: TokenVerifier(ISS, "api://default", max_token_size=v),
    "token_cache_size": lambda v: TokenVerifier(ISS, "api://default", token_cache_size=v),
    "token_cache_ttl": lambda v: TokenVerifier(ISS, "api://default", token_cache_ttl=v),
    "KeyPolicy.timeout": lambda v: KeyPolicy(timeout=v),
    "KeyPolicy.max_stale": lambda v: KeyPolicy(max_stale=v),
    "cache_ttl": lambda v: IntrospectionVerifier(
        ISS, "api://default", client_id="c", client_secret="s", cache_ttl=v
    ),
    "max_rate": lambda v: IntrospectionVerifier(
        ISS, "api://default", client_id="c", client_secret="s", max_rate=v
    ),
}


@pytest.mark.parametrize("option", sorted(BUILDERS))
@pytest.mark.parametrize("value", list(HOSTILE.values()), ids=list(HOSTILE))
def test_a_hostile_number_is_a_configuration_error_naming_the_option(
    option: str, value: Any
) -> None:
    """A 400-digit integer (or NaN, a bool, a string) is a ConfigurationError, not OverflowError."""
    with pytest.raises(ConfigurationError, match=option.split(".")[-1]) as caught:
        BUILDERS[option](value)
    assert len(str(caught.value)) < 200  # a 5000-digit number is described, not printed
