"""Attacks on the Django and DRF integration: hostile requests and hostile-looking settings."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.checks import run_checks
from django.test import override_settings

from .project import base_options


def e001(**options: Any) -> str:
    """The okta_bearer.E001 message for ``OKTA_BEARER`` with ``options`` (empty if none)."""
    with override_settings(OKTA_BEARER={**base_options(), **options}):
        found = [m.msg for m in run_checks() if m.id == "okta_bearer.E001"]
    return found[0] if found else ""


@pytest.mark.parametrize("value", ["false", "no", 0, 1, None])
def test_optional_must_be_a_bool(value: object) -> None:
    """A truthy string such as "false" for optional is E001, not a project open to anyone."""
    assert "optional must be True or False" in e001(optional=value)


@pytest.mark.parametrize("value", ["no", 0])
def test_error_details_must_be_a_bool(value: object) -> None:
    """error_details given as a string or a number is E001 naming it."""
    assert "error_details must be True or False" in e001(error_details=value)


@pytest.mark.parametrize("option", ["public_paths", "required_scopes"])
@pytest.mark.parametrize("value", [5, 2.5, True])
def test_list_options_given_a_number_are_named(option: str, value: object) -> None:
    """A number where a list of paths or scopes is expected is E001, not a crash of the check."""
    assert f"{option} must be a list" in e001(**{option: value})
