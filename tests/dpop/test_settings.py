"""DPoPSettings: secure defaults, and every bad option refused at construction."""

from __future__ import annotations

from typing import Any

import pytest

from okta_bearer import ConfigurationError
from okta_bearer._dpop.settings import DPoPSettings
from okta_bearer._store.memory import MemoryStore


def test_defaults() -> None:
    """DPoP allowed, asymmetric algorithms, 60 s back / 5 s ahead, no nonces, fail closed."""
    settings = DPoPSettings()
    assert settings.mode == "allowed"
    assert "ES256" in settings.algorithms
    assert (settings.max_age, settings.leeway, settings.replay_window) == (60.0, 5.0, 65.0)
    assert settings.nonces() is None
    assert isinstance(settings.store, MemoryStore)
    assert settings.store_failure == "fail_closed"
    assert settings.forwarded is None


BAD: list[tuple[dict[str, Any], str]] = [
    ({"mode": "optional"}, "mode"),
    ({"algorithms": ()}, "algorithms"),
    ({"algorithms": "ES256"}, "algorithms"),
    ({"algorithms": ("none",)}, "algorithms"),
    ({"algorithms": ("HS256",)}, "algorithms"),
    ({"max_age": 0}, "max_age"),
    ({"max_age": "60"}, "max_age"),
    ({"leeway": -1}, "leeway"),
    ({"nonce_secret": b"short"}, "nonce_secret"),
    ({"nonce_secret": b"s" * 32, "nonce_step": 0}, "nonce_step"),
    ({"store": object()}, "store"),
    ({"store_failure": "ignore"}, "store_failure"),
    ({"retry_after": 0}, "retry_after"),
    ({"origin": "api.example.test"}, "origin"),
    ({"origin": "https://api.example.test/path"}, "origin"),
    ({"origin": "https://api.example.test?x=1"}, "origin"),
    ({"forwarded": "yes"}, "forwarded"),
    ({"origin": "https://api.example.test", "forwarded": "forwarded"}, "origin and forwarded"),
    ({"max_proof_size": 10}, "max_proof_size"),
]


@pytest.mark.parametrize(("options", "option"), BAD)
def test_bad_option_raises_configuration_error_naming_it(
    options: dict[str, Any], option: str
) -> None:
    """Each invalid value is refused when the settings are built, naming the option."""
    with pytest.raises(ConfigurationError, match=f"^{option}"):
        DPoPSettings(**options)


def test_secret_not_in_repr() -> None:
    """The nonce secret never appears in the settings' repr."""
    assert "s" * 32 not in repr(DPoPSettings(nonce_secret="s" * 32))
