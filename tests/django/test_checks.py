"""System checks: manage.py check names a wrong OKTA_BEARER option, as ConfigurationError does."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.checks import run_checks
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import override_settings

from okta_bearer import ConfigurationError, TokenVerifier
from okta_bearer.django import BearerAuthMiddleware
from okta_bearer.testing import LocalIssuer

from .project import base_options


def ids(**settings: Any) -> dict[str, str]:
    """The okta_bearer check messages under ``settings``, by id."""
    with override_settings(**settings):
        return {m.id: m.msg for m in run_checks() if m.id.startswith("okta_bearer.")}


def test_valid_settings_pass() -> None:
    """The test project's settings raise no okta_bearer message."""
    assert ids() == {}


def test_misspelt_option_names_the_right_one() -> None:
    """A misspelt key is E001 naming the key meant."""
    options = {**base_options(), "public_path": ["/health"]}
    assert ids(OKTA_BEARER=options) == {
        "okta_bearer.E001": "settings.OKTA_BEARER got an unknown option 'public_path'; "
        "did you mean 'public_paths'?"
    }


@pytest.mark.parametrize(
    ("options", "fragment"),
    [
        ({"issuer": "http://issuer.example/oauth2/default"}, "issuer must use https://"),
        ({"public_paths": "/health"}, "public_paths must be a list of paths"),
        ({"leeway": 10**400}, "leeway"),
        ({"keys": {"timeout": float("nan")}}, "KeyPolicy.timeout must be a finite number"),
        ({"dpop": {"mdoe": "required"}}, "did you mean 'mode'?"),
        ({"dpop": {"mode": "sometimes"}}, "settings.OKTA_BEARER['dpop']: mode: must be one of"),
        ({"verifier": "no.such.module.verifier"}, "cannot import 'no.such.module.verifier'"),
        ({"realm": 'a"b'}, "realm must be printable ASCII"),
    ],
)
def test_wrong_option_is_e001_with_the_configuration_error(
    options: dict[str, Any], fragment: str
) -> None:
    """A wrong value is E001 carrying the library's ConfigurationError message."""
    found = ids(OKTA_BEARER={**base_options(), **options})
    assert list(found) == ["okta_bearer.E001"]
    assert fragment in found["okta_bearer.E001"]


def test_message_is_the_configuration_errors() -> None:
    """E001's message is exactly what building the same options raises."""
    with pytest.raises(ConfigurationError) as raised:
        TokenVerifier("http://issuer.example/oauth2/default", "api://default")
    found = ids(OKTA_BEARER={**base_options(), "issuer": "http://issuer.example/oauth2/default"})
    assert found["okta_bearer.E001"] == str(raised.value)


def test_missing_setting() -> None:
    """No OKTA_BEARER at all is E001 saying what to set."""
    assert "is not set" in ids(OKTA_BEARER=None)["okta_bearer.E001"]


def test_manage_py_check_fails() -> None:
    """manage.py check exits with the error (SystemCheckError) for a wrong option."""
    with (
        override_settings(OKTA_BEARER={**base_options(), "audiences": "x"}),
        pytest.raises(SystemCheckError, match=r"okta_bearer\.E001.*did you mean 'audience'"),
    ):
        call_command("check")


def test_middleware_refuses_to_start_with_a_wrong_setting() -> None:
    """A server loading the middleware (gunicorn runs no checks) stops with the same error."""
    with (
        override_settings(OKTA_BEARER={**base_options(), "public_path": []}),
        pytest.raises(ConfigurationError, match="did you mean 'public_paths'"),
    ):
        BearerAuthMiddleware(lambda request: None)


def test_cors_after_the_middleware_warns() -> None:
    """A CORS middleware listed after ours is W001 (preflights would be refused)."""
    middleware = [
        "okta_bearer.django.BearerAuthMiddleware",
        "corsheaders.middleware.CorsMiddleware",
    ]
    assert "okta_bearer.W001" in ids(MIDDLEWARE=middleware)
    assert ids(MIDDLEWARE=middleware[::-1]) == {}


def test_drf_allow_any_without_middleware_warns() -> None:
    """BearerAuthentication with DRF's default AllowAny and no middleware is W002."""
    rest = {"DEFAULT_AUTHENTICATION_CLASSES": ["okta_bearer.django.drf.BearerAuthentication"]}
    assert "okta_bearer.W002" in ids(MIDDLEWARE=[], REST_FRAMEWORK=rest)
    assert ids(REST_FRAMEWORK=rest) == {}


def test_verifier_options_with_a_verifier_are_refused(okta_django: LocalIssuer) -> None:
    """TokenVerifier options next to a ready verifier are E001 (they would be ignored)."""
    verifier = okta_django.verifier()
    options = {"verifier": verifier, "client_ids": ["0oa1"]}
    assert "with 'verifier' set" in ids(OKTA_BEARER=options)["okta_bearer.E001"]
