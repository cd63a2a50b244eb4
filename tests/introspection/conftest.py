"""Fixtures: a LocalIssuer with an introspection endpoint, on a settable clock."""

from __future__ import annotations

import pytest

from okta_bearer._testing.opaque import IntrospectionServer
from okta_bearer.testing import LocalIssuer

from ..helpers import Clock


@pytest.fixture
def clock() -> Clock:
    """The clock the issuer and the verifiers read."""
    return Clock()


@pytest.fixture
def local(clock: Clock) -> LocalIssuer:
    """The in-memory issuer whose tokens are introspected."""
    return LocalIssuer(clock=clock)


@pytest.fixture
def server(local: LocalIssuer) -> IntrospectionServer:
    """``/v1/introspect`` and ``/v1/revoke`` in front of ``local``."""
    return IntrospectionServer(local)
