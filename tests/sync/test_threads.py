"""verify_sync from many threads: one fetch per process (or fleet), no lock held during it."""

from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from okta_bearer import (
    ConfigurationError,
    InsufficientScope,
    InvalidToken,
    KeyPolicy,
    TokenVerifier,
)
from okta_bearer._store.memory import MemoryStore
from okta_bearer.testing import LocalIssuer

from ..helpers import Clock
from .conftest import AUDIENCE, ISSUER, KeyServer

KEYS_MAX_AGE = 3600


def test_verify_sync_accepts_a_local_issuer_token() -> None:
    """LocalIssuer.transport() (an httpx.MockTransport) serves verify_sync from plain sync code."""
    issuer = LocalIssuer(ISSUER, AUDIENCE)
    with issuer.verifier() as verifier:
        assert verifier.warm_up_sync() == []
        claims = verifier.verify_sync(issuer.mint(sub="alice", scp=["read"]), ["read"])
        assert claims.sub == "alice"
        with pytest.raises(InsufficientScope):
            verifier.verify_sync(issuer.mint(scp=["read"]), ["write"])
        with pytest.raises(InvalidToken):
            verifier.verify_sync(issuer.mint(aud="api://other"))


class SlowJwks(KeyServer):
    """A key server whose JWKS answer takes ``delay`` seconds, probing the verifier meanwhile."""

    def __init__(self, issuer: LocalIssuer, delay: float) -> None:
        super().__init__(issuer, Clock())
        self.delay = delay
        self.probe: Any = None
        self.probed: list[Any] = []

    def answer(self, request: httpx.Request) -> httpx.Response:
        if self.kind(request) == "jwks":
            if self.probe is not None:
                self.probed.append(self.probe())
            time.sleep(self.delay)
        return super().answer(request)


def test_32_threads_on_a_cold_cache_make_one_fetch_with_the_lock_free() -> None:
    """32 threads meeting a cold cache share one discovery and one JWKS fetch; the lock is free."""
    issuer = LocalIssuer(ISSUER, AUDIENCE)
    transport = SlowJwks(issuer, 0.2)
    tokens = [issuer.mint(sub=f"user{i}") for i in range(32)]
    with TokenVerifier(ISSUER, AUDIENCE, transport=transport) as verifier:
        keys = verifier.sync_keys

        def lock_is_free() -> bool:
            # Another thread takes the policy lock while the fetch is in flight.
            outcome: list[bool] = []

            def take() -> None:
                acquired = keys._lock.acquire(timeout=1)
                outcome.append(acquired)
                if acquired:
                    keys._lock.release()

            other = threading.Thread(target=take)
            other.start()
            other.join()
            return outcome == [True]

        transport.probe = lock_is_free
        barrier = threading.Barrier(32)

        def verify(token: str) -> str | None:
            barrier.wait()
            return verifier.verify_sync(token).sub

        with ThreadPoolExecutor(32) as pool:
            subjects = list(pool.map(verify, tokens))
        assert subjects == [f"user{i}" for i in range(32)]
        assert keys.fetch_counts == {"discovery": 1, "jwks": 1}
        assert transport.probed == [True]


def test_a_cached_token_passes_while_another_verifier_fetches() -> None:
    """Threads of one verifier are not held up by another verifier's slow key fetch."""
    issuer = LocalIssuer(ISSUER, AUDIENCE)
    slow = SlowJwks(issuer, 0.5)
    with (
        TokenVerifier(ISSUER, AUDIENCE, transport=issuer.transport()) as warm,
        TokenVerifier(ISSUER, AUDIENCE, transport=slow) as cold,
    ):
        token = issuer.mint()
        warm.verify_sync(token)
        timings: list[float] = []

        def probe() -> bool:
            start = time.perf_counter()
            warm.verify_sync(token)
            timings.append(time.perf_counter() - start)
            return True

        slow.probe = probe
        cold.verify_sync(issuer.mint())
        assert slow.probed == [True]
        assert timings[0] < 0.25


def test_16_threads_verifying_distinct_tokens_get_their_own_answers() -> None:
    """One verifier shared by 16 threads answers each token right, good and bad mixed."""
    issuer = LocalIssuer(ISSUER, AUDIENCE)
    stranger = LocalIssuer(ISSUER, AUDIENCE)  # same issuer name, other keys
    with issuer.verifier() as verifier:
        cases: list[tuple[str, str]] = []
        for i in range(16 * 8):
            kind = i % 4
            if kind == 0:
                cases.append((issuer.mint(sub=f"u{i}"), f"u{i}"))
            elif kind == 1:
                cases.append((issuer.mint(sub=f"u{i}", aud="api://other"), "bad_audience"))
            elif kind == 2:
                cases.append((stranger.mint(sub=f"u{i}"), "unknown_kid"))
            else:
                cases.append((issuer.mint(sub=f"u{i}", scp=["read"]), f"u{i}"))

        def outcome(case: tuple[str, str]) -> str:
            try:
                return verifier.verify_sync(case[0]).sub or ""
            except InvalidToken as exc:
                return exc.reason

        with ThreadPoolExecutor(16) as pool:
            first = list(pool.map(outcome, cases))
            again = list(pool.map(outcome, cases))  # now from the verified-token cache
        expected = [want for _, want in cases]
        assert first == expected
        assert again == expected


def test_refresh_ahead_runs_in_a_background_thread_while_requests_pass() -> None:
    """Inside the refresh-ahead window requests use the current keys while a thread fetches."""
    clock = Clock()
    issuer = LocalIssuer(ISSUER, AUDIENCE, clock=clock)
    server = KeyServer(issuer, clock)
    with issuer.verifier(transport=server, clock=clock) as verifier:
        verifier.verify_sync(issuer.mint())
        server.hold["jwks"] = threading.Event()
        server.arrived["jwks"].clear()
        clock.advance(KEYS_MAX_AGE - 20)
        start = time.perf_counter()
        verifier.verify_sync(issuer.mint())  # starts the refresh, does not wait for it
        assert server.arrived["jwks"].wait(5)
        verifier.verify_sync(issuer.mint())  # the refresh is held: still served at once
        assert time.perf_counter() - start < 2
        refresher = [t for t in threading.enumerate() if t.name == "okta_bearer-keys-refresh"]
        assert len(refresher) == 1
        assert refresher[0].daemon
        server.hold["jwks"].set()
        refresher[0].join(5)
        assert server.count("jwks") == 2


def test_a_new_kid_waits_for_the_refresh_already_in_flight() -> None:
    """A token of a just-published key, arriving during a background refresh, waits for it."""
    clock = Clock()
    issuer = LocalIssuer(ISSUER, AUDIENCE, clock=clock)
    server = KeyServer(issuer, clock)
    with issuer.verifier(transport=server, clock=clock) as verifier:
        verifier.verify_sync(issuer.mint())
        old_key = issuer.signing_key
        issuer.rotate()
        server.hold["jwks"] = threading.Event()
        server.arrived["jwks"].clear()
        clock.advance(KEYS_MAX_AGE - 20)
        verifier.verify_sync(issuer.mint(key=old_key))
        assert server.arrived["jwks"].wait(5)
        outcome: list[str | None] = []
        waiter = threading.Thread(
            target=lambda: outcome.append(verifier.verify_sync(issuer.mint(sub="new")).sub)
        )
        waiter.start()
        time.sleep(0.1)
        assert outcome == []  # waiting on the refresh, not refused
        server.hold["jwks"].set()
        waiter.join(5)
        assert outcome == ["new"]
        assert server.count("jwks") == 2


def test_two_sync_verifiers_sharing_a_memory_store_fetch_once() -> None:
    """Two verifiers sharing a MemoryStore through its blocking face make one JWKS fetch."""
    clock = Clock()
    issuer = LocalIssuer(ISSUER, AUDIENCE, clock=clock)
    server = KeyServer(issuer, clock)
    store = MemoryStore()
    options: dict[str, Any] = {"transport": server, "clock": clock, "store": store}
    with (
        TokenVerifier(ISSUER, AUDIENCE, **options) as one,
        TokenVerifier(ISSUER, AUDIENCE, **options) as two,
    ):
        token = issuer.mint()
        with ThreadPoolExecutor(8) as pool:
            subjects = list(pool.map(lambda v: v.verify_sync(token).sub, [one, two] * 4))
        assert len(set(subjects)) == 1
        assert server.count("jwks") == 1
        fleet = one.sync_keys._fleet
        assert fleet is not None
        adopted = fleet.counts["adopted"] + (two.sync_keys._fleet or fleet).counts["adopted"]
        assert adopted == 1
        # A rotation is one fetch for both, too.
        clock.advance(1)
        issuer.rotate()
        rotated = issuer.mint()
        assert one.verify_sync(rotated).sub == two.verify_sync(rotated).sub
        assert server.count("jwks") == 2


def test_an_async_and_a_sync_verifier_share_one_store() -> None:
    """An ASGI worker and a WSGI worker on one MemoryStore: the second adopts the first's keys."""
    clock = Clock()
    issuer = LocalIssuer(ISSUER, AUDIENCE, clock=clock)
    server = KeyServer(issuer, clock)
    store = MemoryStore()
    options: dict[str, Any] = {"transport": server, "clock": clock, "store": store}
    asgi = TokenVerifier(ISSUER, AUDIENCE, **options)
    wsgi = TokenVerifier(ISSUER, AUDIENCE, **options)
    token = issuer.mint()
    asyncio.run(asgi.verify(token))
    assert wsgi.verify_sync(token).sub == issuer.claims()["sub"]
    assert server.count("jwks") == 1
    asyncio.run(asgi.aclose())
    wsgi.close()


def test_a_store_without_a_blocking_face_is_refused_naming_store() -> None:
    """verify_sync with an async-only store is a ConfigurationError naming store."""

    class AsyncOnlyStore:
        async def set_if_absent(self, key: str, value: bytes, ttl: float) -> bool:
            return True

        async def set(self, key: str, value: bytes, ttl: float) -> None: ...
        async def get(self, key: str) -> bytes | None:
            return None

        async def delete(self, key: str) -> None: ...
        async def delete_if_equal(self, key: str, value: bytes) -> bool:
            return False

        async def increment(self, key: str, ttl: float) -> int:
            return 1

        async def aclose(self) -> None: ...

    issuer = LocalIssuer(ISSUER, AUDIENCE)
    verifier = issuer.verifier(store=AsyncOnlyStore())
    with pytest.raises(ConfigurationError, match="store"):
        verifier.verify_sync(issuer.mint())


def test_close_releases_the_sync_client() -> None:
    """close() (or leaving the with block) closes the httpx.Client the sync side made."""
    issuer = LocalIssuer(ISSUER, AUDIENCE)
    with issuer.verifier(keys=KeyPolicy(timeout=1)) as verifier:
        verifier.verify_sync(issuer.mint())
        client = verifier.sync_keys._client
        assert client is not None
    assert client.is_closed
