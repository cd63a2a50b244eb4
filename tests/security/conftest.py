"""Fixtures of the security suite: one hostile world per test session."""

from __future__ import annotations

import pytest

from ._world import World, build_world


@pytest.fixture(scope="session")
def world() -> World:
    """The trusted issuer, its extra (hostile) JWKS members and the attacker's keys."""
    return build_world()
