"""The fleet's coordination as a flow, driven step by step: no store, no threads, no timing."""

from __future__ import annotations

import math
from typing import Any

import pytest

from okta_bearer._flow import Flow, Pause, StoreCall
from okta_bearer._keys.fleet import Fleet, SharedKeys

NOW = 1_000_000.0
ISSUER = "https://okta.example.test/oauth2/default"
JWKS = {"keys": [{"kid": "k1"}]}


def fleet() -> Fleet:
    """A fleet coordinator with a fixed clock."""
    return Fleet(
        issuer=ISSUER,
        jwks_uri=None,
        algorithms=("RS256",),
        clock=lambda: NOW,
        timeout=5.0,
        interval=5.0,
        refresh_ahead=30.0,
        max_stale=600.0,
    )


def never_fetch() -> Flow[tuple[str, Any, float]]:
    """A fetch that must not run."""
    raise AssertionError("fetched although a fresh copy was published")
    yield  # pragma: no cover - makes this a generator


def fetch_once() -> Flow[tuple[str, Any, float]]:
    """A fetch that answers at once."""
    return f"{ISSUER}/v1/keys", JWKS, 3600.0
    yield  # pragma: no cover - makes this a generator


def test_a_copy_published_between_the_read_and_the_lease_is_adopted() -> None:
    """Another process published and released between our read and our lease: no second fetch."""
    coordinator = fleet()
    flow = coordinator.obtain(never_fetch, kid=None, ours_fetched_at=-math.inf)
    read = next(flow)
    assert read == StoreCall("get", (coordinator._doc_key,))
    lease = flow.send(None)  # nothing shared yet...
    assert isinstance(lease, StoreCall)
    assert lease.method == "set_if_absent"
    # ...the other process publishes and releases; our lease is granted.
    reread = flow.send(True)
    assert reread == StoreCall("get", (coordinator._doc_key,))
    published = SharedKeys(f"{ISSUER}/v1/keys", JWKS, NOW - 1, 3600.0).encode()
    release = flow.send(published)
    assert isinstance(release, StoreCall)
    assert release.method == "delete_if_equal"
    with pytest.raises(StopIteration) as done:
        flow.send(True)
    assert done.value.value.document == JWKS
    assert coordinator.counts == {"fetched": 0, "adopted": 1}


def test_a_lease_holder_fetches_publishes_and_releases() -> None:
    """With nothing shared, the lease holder fetches, publishes its copy, then releases."""
    coordinator = fleet()
    flow = coordinator.obtain(fetch_once, kid=None, ours_fetched_at=-math.inf)
    steps: list[Any] = [next(flow)]
    answers = iter([None, True, None, None, True])
    result: Any = None
    try:
        while True:
            steps.append(flow.send(next(answers)))
    except StopIteration as stop:
        result = stop.value
    assert [s.method for s in steps if isinstance(s, StoreCall)] == [
        "get",
        "set_if_absent",
        "get",
        "set",
        "delete_if_equal",
    ]
    assert not [s for s in steps if isinstance(s, Pause)]
    assert result.jwks_uri == f"{ISSUER}/v1/keys"
    assert coordinator.counts == {"fetched": 1, "adopted": 0}
