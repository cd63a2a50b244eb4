"""pytest plugin: the ``okta_issuer`` fixture (registered through the ``pytest11`` entry point)."""

from __future__ import annotations

import pytest

from .testing import LocalIssuer

__all__ = ["okta_issuer"]


@pytest.fixture
def okta_issuer() -> LocalIssuer:
    """A fresh in-memory :class:`~okta_bearer.testing.LocalIssuer` for each test."""
    return LocalIssuer()
