"""The sync side's edges: a failing or slow shared store, a hung issuer, warm_up_sync."""

from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from okta_bearer import ConfigurationError, KeyPolicy, KeysUnavailable, TokenVerifier
from okta_bearer._store.memory import MemoryStore, StoreUnavailable, SyncStore
from okta_bearer.testing import LocalIssuer

from ..faults._keyserver import FaultyKeyServer, never_answers, status
from ..helpers import Clock
from .conftest import AUDIENCE, ISSUER, KeyServer
from .test_cold_start_faults_sync import SyncFaults


class BrokenSyncStore:
    """A blocking store whose reads and leases fail, as a Redis that went away."""

    def set_if_absent(self, key: str, value: bytes, ttl: float) -> bool:
        raise StoreUnavailable("down")

    def set(self, key: str, value: bytes, ttl: float) -> None:
        raise StoreUnavailable("down")

    def get(self, key: str) -> bytes | None:
        raise StoreUnavailable("down")

    def delete(self, key: str) -> None:
        raise StoreUnavailable("down")

    def delete_if_equal(self, key: str, value: bytes) -> bool:
        raise StoreUnavailable("down")

    def increment(self, key: str, ttl: float) -> int:
        raise StoreUnavailable("down")

    def close(self) -> None:
        """Nothing to release."""


class SlowSyncStore(BrokenSyncStore):
    """A blocking store that answers reads only after ``delay`` seconds."""

    def __init__(self, delay: float) -> None:
        self.delay = delay

    def get(self, key: str) -> bytes | None:
        time.sleep(self.delay)
        return None


def test_a_broken_shared_store_means_each_worker_fetches_alone() -> None:
    """If the store fails, each sync verifier fetches its own keys and tokens still pass."""
    assert isinstance(BrokenSyncStore(), SyncStore)
    clock = Clock()
    issuer = LocalIssuer(ISSUER, AUDIENCE, clock=clock)
    server = KeyServer(issuer, clock)
    options: dict[str, Any] = {"transport": server, "clock": clock, "store": BrokenSyncStore()}
    verifiers = [TokenVerifier(ISSUER, AUDIENCE, **options) for _ in range(3)]
    token = issuer.mint()
    assert [v.verify_sync(token).sub for v in verifiers] == [issuer.claims()["sub"]] * 3
    assert server.count("jwks") == 3
    for verifier in verifiers:
        verifier.close()


def test_a_store_slower_than_the_budget_fails_the_refresh_instead_of_fetching_late() -> None:
    """The budget running out in a store read fails the refresh; no fetch starts past it."""
    clock = Clock()
    issuer = LocalIssuer(ISSUER, AUDIENCE, clock=clock)
    server = KeyServer(issuer, clock)
    with TokenVerifier(
        ISSUER,
        AUDIENCE,
        transport=server,
        clock=clock,
        store=SlowSyncStore(0.5),
        keys=KeyPolicy(timeout=0.2),
    ) as verifier:
        start = time.monotonic()
        with pytest.raises(KeysUnavailable):
            verifier.verify_sync(issuer.mint())
        assert time.monotonic() - start < 2
        assert server.count("jwks") == 0  # no fetch after the budget ran out


def test_50_threads_on_a_hung_issuer_all_get_503_promptly_after_one_request() -> None:
    """A never-answering discovery costs one request; 50 waiting threads all get 503 in time."""
    clock = Clock()
    issuer = LocalIssuer(ISSUER, AUDIENCE, clock=clock)
    server = FaultyKeyServer(issuer, clock)
    server.faults["discovery"] = never_answers(server)
    with TokenVerifier(
        ISSUER, AUDIENCE, transport=SyncFaults(server), clock=clock, keys=KeyPolicy(timeout=0.3)
    ) as verifier:
        barrier = threading.Barrier(50)

        def outcome(token: str) -> str:
            barrier.wait()
            try:
                verifier.verify_sync(token)
            except KeysUnavailable as exc:
                return exc.reason
            return "ok"

        start = time.monotonic()
        with ThreadPoolExecutor(50) as pool:
            outcomes = list(pool.map(outcome, [issuer.mint() for _ in range(50)]))
        assert outcomes == ["keys_unavailable"] * 50
        assert time.monotonic() - start < 5
        assert server.count("discovery") == 1


def test_warm_up_sync_names_the_problem() -> None:
    """warm_up_sync() returns what failed, naming the issuer, and never raises for it."""
    clock = Clock()
    issuer = LocalIssuer(ISSUER, AUDIENCE, clock=clock)
    server = FaultyKeyServer(issuer, clock)
    server.faults["jwks"] = status(500)
    with TokenVerifier(ISSUER, AUDIENCE, transport=SyncFaults(server), clock=clock) as verifier:
        problems = verifier.warm_up_sync()
    assert len(problems) == 1
    assert problems[0].startswith(f"issuer {ISSUER}: ")
    assert "HTTP 500" in problems[0]


def test_a_memory_store_sync_face_serves_a_fleet_of_threads() -> None:
    """Four verifiers x eight threads on one MemoryStore: one discovery and one JWKS in all."""
    clock = Clock()
    issuer = LocalIssuer(ISSUER, AUDIENCE, clock=clock)
    server = KeyServer(issuer, clock)
    store = MemoryStore()
    verifiers = [
        TokenVerifier(ISSUER, AUDIENCE, transport=server, clock=clock, store=store)
        for _ in range(4)
    ]
    tokens = [issuer.mint(sub=f"u{i}") for i in range(32)]
    with ThreadPoolExecutor(32) as pool:
        subjects = list(pool.map(lambda i: verifiers[i % 4].verify_sync(tokens[i]).sub, range(32)))
    assert subjects == [f"u{i}" for i in range(32)]
    assert (server.count("discovery"), server.count("jwks")) == (1, 1)
    for verifier in verifiers:
        verifier.close()


def test_a_sync_only_store_serves_verify_sync_and_is_refused_by_verify() -> None:
    """A SyncStore alone (MemoryStore().sync) works for verify_sync; verify() names store."""
    issuer = LocalIssuer(ISSUER, AUDIENCE)
    verifier = issuer.verifier(store=MemoryStore().sync)
    assert verifier.verify_sync(issuer.mint(sub="alice")).sub == "alice"
    with pytest.raises(ConfigurationError, match="store"):
        asyncio.run(verifier.verify(issuer.mint()))
    verifier.close()
