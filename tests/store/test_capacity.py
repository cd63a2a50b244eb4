"""The Redis figures BENCHMARKS.md publishes ("Capacity on paper"), held to a real redis-server.

``benchmarks.capacity`` counts what each request profile sends to Redis
(``MONITOR``) and what the server executed (``INFO commandstats``); these tests
run the same measurement and assert the round trips per request, so a change
that adds a Redis command to a hot path fails here before it makes the
published table wrong.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from benchmarks.capacity import (
    Profile,
    Recorder,
    bearer_profiles,
    dpop_profiles,
    introspection_profiles,
)

from ._server import RedisServer

pytestmark = pytest.mark.anyio


@pytest.fixture
async def recorder(redis_server: RedisServer) -> AsyncIterator[Recorder]:
    """A recorder on an emptied database of the module's redis-server."""
    recording = Recorder(redis_server.url)
    await recording.admin.flushdb()
    try:
        yield recording
    finally:
        await recording.aclose()


def _by_name(profiles: list[Profile]) -> dict[str, Profile]:
    # What our connections sent and scripts ran is what the server counted.
    assert all(p.executed == p.server for p in profiles)
    return {p.name.split(": ", 1)[1]: p for p in profiles}


async def test_bearer_requests_cost_no_round_trip_and_key_fetches_cost_four(
    recorder: Recorder, redis_server: RedisServer
) -> None:
    """A bearer JWT costs 0 round trips; a cold start or rotation 4 (first worker), 1 (others)."""
    profiles = _by_name(await bearer_profiles(recorder, redis_server.url))
    assert profiles["repeated token (verified-token cache)"].per_event == 0
    assert profiles["a new token each request, keys warm"].per_event == 0
    for first in (
        "cold start, first worker (store empty)",
        "key rotation, first worker (unknown kid)",
    ):
        assert profiles[first].per_event == 4
    for other in (
        "cold start, each other worker (keys in store)",
        "key rotation, each other worker",
    ):
        assert profiles[other].per_event == 1
        assert profiles[other].round_trips["get"] == 1


async def test_a_dpop_request_costs_one_set_and_one_mark_of_131_seconds(
    recorder: Recorder, redis_server: RedisServer
) -> None:
    """Each DPoP request sends one SET and leaves one replay mark set for 2 x 65 s + 1 s."""
    (profile,) = _by_name(await dpop_profiles(recorder, redis_server.url)).values()
    assert profile.per_event == 1
    assert dict(profile.round_trips) == {"set": profile.events}
    (marks,) = profile.keys
    assert marks["count"] == profile.events
    assert marks["set_ttl"] == 131_000


async def test_introspection_costs_zero_one_or_six_round_trips(
    recorder: Recorder, redis_server: RedisServer
) -> None:
    """Cached in the process: 0; in the shared store: 1 GET; a new token: 6 round trips.

    A new token's six: GET (miss), SET NX (the lease), GET again (a holder may
    have published and released in between), the budget script, SET (the
    answer), the release script.
    """
    profiles = _by_name(await introspection_profiles(recorder, redis_server.url))
    assert profiles["answer cached in this process"].per_event == 0
    shared = profiles["answer in the store (another worker asked)"]
    assert dict(shared.round_trips) == {"get": shared.events}
    cold = profiles["a new token (cold)"]
    assert cold.per_event == 6
    assert dict(cold.round_trips) == {
        "get": 2 * cold.events,
        "set": 2 * cold.events,
        "evalsha": 2 * cold.events,
    }
    answers = [row for row in cold.keys if row["shape"].endswith("<sha256(token)>")]
    assert answers[0]["count"] == cold.events
    assert answers[0]["set_ttl"] == 60_000
