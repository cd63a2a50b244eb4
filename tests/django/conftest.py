"""Django configured in code for this folder (no pytest-django), and a client per test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .project import configure

configure()

from django.test import Client  # noqa: E402 - needs the settings above

from okta_bearer.testing import LocalIssuer  # noqa: E402

from . import views  # noqa: E402
from .helpers import NO_MIDDLEWARE  # noqa: E402


@pytest.fixture(autouse=True)
def _no_views_reached() -> Iterator[None]:
    """Each test starts with an empty record of the views that ran."""
    views.REACHED.clear()
    yield
    views.REACHED.clear()


@pytest.fixture
def client(okta_django: LocalIssuer) -> Client:
    """Django's test client, for a project trusting this test's ``okta_django`` issuer."""
    return Client()


@pytest.fixture(params=["middleware", "drf-only"])
def setup(request: pytest.FixtureRequest, okta_django: LocalIssuer) -> Iterator[str]:
    """Each test runs behind the Django middleware and with DRF's classes alone."""
    if request.param == "middleware":
        yield request.param
        return
    with NO_MIDDLEWARE:
        yield request.param
