"""pytest plugin: the ``okta_issuer`` fixture (registered through the ``pytest11`` entry point).

Framework fixtures import their framework only when a test asks for them, so
the plugin loads in any project (a plain install imports neither Django nor Flask).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .testing import LocalIssuer

__all__ = ["okta_django", "okta_issuer"]


@pytest.fixture
def okta_issuer() -> LocalIssuer:
    """A fresh in-memory :class:`~okta_bearer.testing.LocalIssuer` for each test."""
    return LocalIssuer()


@pytest.fixture
def okta_django(okta_issuer: LocalIssuer) -> Iterator[LocalIssuer]:
    """``okta_issuer``, trusted by the Django project's ``OKTA_BEARER`` for this test.

    The project's other options stay; see
    :func:`okta_bearer.django.use_local_issuer`.  Needs Django settings
    configured (``DJANGO_SETTINGS_MODULE``, pytest-django, or
    ``settings.configure``).
    """
    from .django import use_local_issuer  # imported only when a test asks for it

    with use_local_issuer(okta_issuer):
        yield okta_issuer
