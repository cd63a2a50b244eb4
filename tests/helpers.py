"""Small shared helpers for the test suite."""

from __future__ import annotations

import asyncio


class Clock:
    """A settable clock for TokenVerifier(clock=...) and LocalIssuer(clock=...)."""

    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


async def settle(rounds: int = 50) -> None:
    """Let background tasks (such as a refresh-ahead) run to completion."""
    for _ in range(rounds):
        await asyncio.sleep(0)


def bearer(token: str) -> dict[str, str]:
    """Request headers carrying ``token`` as a Bearer credential."""
    return {"Authorization": f"Bearer {token}"}
