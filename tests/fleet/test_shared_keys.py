"""Four uvicorn workers sharing a real Redis fetch keys as one process would."""

from __future__ import annotations

import secrets
import time
from concurrent.futures import ThreadPoolExecutor

import httpx

from okta_bearer.testing import SigningKey

from .conftest import Fleet


def call_concurrently(base_url: str, tokens: list[str]) -> list[tuple[int, int | None]]:
    """One request per token, each on its own connection, all at once: (status, worker pid)."""

    def call(token: str) -> tuple[int, int | None]:
        # A fresh client per request: a new connection, so the kernel spreads them over workers.
        with httpx.Client(base_url=base_url, trust_env=False, timeout=30) as client:
            response = client.get("/", headers={"Authorization": f"Bearer {token}"})
        pid = response.json().get("pid") if response.status_code == 200 else None
        return response.status_code, pid

    with ThreadPoolExecutor(max_workers=len(tokens)) as pool:
        return list(pool.map(call, tokens))


def test_50_cold_requests_over_4_workers_fetch_the_keys_once(fleet: Fleet) -> None:
    """50 concurrent requests to a cold 4-worker API cause 1 discovery and 1 JWKS fetch."""
    results = call_concurrently(fleet.api.base_url, [fleet.issuer.mint() for _ in range(50)])
    assert [status for status, _ in results] == [200] * 50, fleet.api.log.read_text()
    assert len({pid for _, pid in results}) >= 2  # the requests really spread over workers
    assert fleet.keys.counts["jwks"] == 1
    assert fleet.keys.counts["discovery"] == 1


def test_a_rotation_costs_the_whole_fleet_one_fetch(fleet: Fleet) -> None:
    """After a rotation, new-kid tokens at every worker cause one more JWKS fetch in all."""
    warm = call_concurrently(fleet.api.base_url, [fleet.issuer.mint() for _ in range(20)])
    assert {status for status, _ in warm} == {200}
    assert fleet.keys.counts["jwks"] == 1
    fleet.issuer.rotate()
    results = call_concurrently(fleet.api.base_url, [fleet.issuer.mint() for _ in range(40)])
    assert [status for status, _ in results] == [200] * 40, fleet.api.log.read_text()
    assert fleet.keys.counts["jwks"] == 2


def test_a_random_kid_flood_over_the_fleet_costs_one_fetch(fleet: Fleet) -> None:
    """200 concurrent tokens with random kids over 4 workers cause at most one refetch."""
    warm = call_concurrently(fleet.api.base_url, [fleet.issuer.mint() for _ in range(8)])
    assert {status for status, _ in warm} == {200}
    attacker = SigningKey.generate("RS256")
    forged = [
        fleet.issuer.mint(key=attacker, header={"kid": secrets.token_urlsafe(8)})
        for _ in range(200)
    ]
    began = time.monotonic()
    results = call_concurrently(fleet.api.base_url, forged)
    lasted = time.monotonic() - began
    assert {status for status, _ in results} == {401}
    # The cold fetch (at start-up), then one refetch per 5 s unknown-kid interval
    # for the whole fleet: one for a flood that lasts under 5 s, as on a quiet machine.
    assert fleet.keys.counts["jwks"] <= 2 + int(lasted // 5), lasted
