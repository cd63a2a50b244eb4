"""Stateless time-step nonces (RFC 9449 section 9) shared by replicas."""

from __future__ import annotations

import pytest

from okta_bearer import ConfigurationError
from okta_bearer._dpop.nonce import NonceSource
from okta_bearer._dpop.proof import UseDPoPNonce

SECRET = b"s" * 32
NOW = 1_700_000_000.0


def test_nonce_accepted_in_its_step_and_the_next() -> None:
    """A nonce is valid in the step it was issued and in the following one."""
    nonces = NonceSource(SECRET, step=300)
    nonce = nonces.current(NOW)
    assert nonces.is_valid(nonce, NOW)
    assert nonces.is_valid(nonce, NOW + 300)


def test_nonce_refused_two_steps_later() -> None:
    """A nonce two steps old is stale."""
    nonces = NonceSource(SECRET, step=300)
    assert not nonces.is_valid(nonces.current(NOW), NOW + 600)


def test_replicas_with_the_same_secret_agree() -> None:
    """Two replicas configured with one secret accept each other's nonces."""
    assert NonceSource(SECRET).is_valid(NonceSource(SECRET).current(NOW), NOW)


def test_other_secret_refused() -> None:
    """A nonce made with another secret is not valid."""
    assert not NonceSource(SECRET).is_valid(NonceSource(b"t" * 32).current(NOW), NOW)


@pytest.mark.parametrize(("nonce", "reason"), [(None, "nonce_required"), ("forged", "nonce_stale")])
def test_check_raises_use_dpop_nonce_with_a_fresh_one(nonce: str | None, reason: str) -> None:
    """A missing or wrong nonce raises UseDPoPNonce carrying the current nonce."""
    nonces = NonceSource(SECRET)
    with pytest.raises(UseDPoPNonce) as caught:
        nonces.check(nonce, NOW)
    assert caught.value.reason == reason
    assert caught.value.nonce == nonces.current(NOW)


def test_non_ascii_nonce_is_just_invalid() -> None:
    """A nonce with non-ASCII characters is invalid, not an error."""
    assert not NonceSource(SECRET).is_valid("\u00e9" * 43, NOW)


@pytest.mark.parametrize(
    ("secret", "step", "option"),
    [(b"short", 300, "nonce_secret"), ("x" * 31, 300, "nonce_secret"), (SECRET, 0, "nonce_step")],
)
def test_bad_configuration_names_the_option(secret: bytes | str, step: int, option: str) -> None:
    """A short secret or a non-positive step is a ConfigurationError naming the option."""
    with pytest.raises(ConfigurationError, match=option):
        NonceSource(secret, step)
