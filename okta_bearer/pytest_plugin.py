"""pytest plugin: the ``okta_issuer`` and ``okta_verifier`` fixtures (entry point ``pytest11``).

Both work for every framework: an ASGI app awaits the verifier's ``verify()``,
a Flask or Django app (and its test client) calls ``verify_sync()``; the keys
come from the in-memory issuer either way, with no network.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ._jwt.verifier import TokenVerifier
from .testing import LocalIssuer

__all__ = ["okta_issuer", "okta_verifier"]


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
