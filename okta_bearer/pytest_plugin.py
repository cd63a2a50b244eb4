"""pytest plugin: ``okta_issuer``, ``okta_verifier`` and ``okta_django`` (entry point ``pytest11``).

The first two serve every framework: an ASGI app awaits the verifier's ``verify()``,
a Flask or Django app (and its test client) calls ``verify_sync()``; the keys
come from the in-memory issuer either way, with no network.  ``okta_django``
imports Django only when a test asks for it (a plain install imports neither
Django nor Flask).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ._jwt.verifier import TokenVerifier
from .testing import LocalIssuer

__all__ = ["okta_django", "okta_issuer", "okta_verifier"]


@pytest.fixture
def okta_issuer() -> LocalIssuer:
    """A fresh in-memory :class:`~okta_bearer.testing.LocalIssuer` for each test."""
    return LocalIssuer()


@pytest.fixture
def okta_verifier(okta_issuer: LocalIssuer) -> Iterator[TokenVerifier]:
    """``okta_issuer.verifier()``: pass it to your app factory; its sync side is closed after."""
    verifier = okta_issuer.verifier()
    yield verifier
    verifier.close()


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
