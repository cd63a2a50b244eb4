"""Shared fixtures: async tests run on asyncio through anyio's pytest plugin."""

from __future__ import annotations

import pytest


@pytest.fixture
def anyio_backend() -> str:
    """okta_bearer's key store uses asyncio tasks, so tests run on asyncio."""
    return "asyncio"
