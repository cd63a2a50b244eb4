"""TokenVerifier.verify_sync: the same checks from threads, one key fetch per process."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from okta_bearer import ConfigurationError, InsufficientScope, InvalidToken, TokenVerifier
from okta_bearer.testing import LocalIssuer

ISSUER = "https://okta.example.test/oauth2/default"
AUDIENCE = "api://default"


def test_verify_sync_accepts_a_local_issuer_token() -> None:
    """A token of LocalIssuer verifies through its MockTransport from plain sync code."""
    issuer = LocalIssuer(ISSUER, AUDIENCE)
    with issuer.verifier() as verifier:
        claims = verifier.verify_sync(issuer.mint(sub="alice", scp=["read"]), ["read"])
        assert claims.sub == "alice"
        with pytest.raises(InsufficientScope):
            verifier.verify_sync(issuer.mint(scp=["read"]), ["write"])
        with pytest.raises(InvalidToken):
            verifier.verify_sync(issuer.mint(aud="api://other"))


class SlowJwks(httpx.BaseTransport):
    """LocalIssuer's endpoints, with the JWKS answer held for ``delay`` seconds."""

    def __init__(self, issuer: LocalIssuer, delay: float) -> None:
        self.issuer = issuer
        self.delay = delay
        self.in_jwks = threading.Event()
        self.during: list[bool] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/keys"):
            self.in_jwks.set()
            time.sleep(self.delay)
        return self.issuer.handler(request)


def test_32_threads_on_a_cold_cache_make_one_discovery_and_one_jwks_fetch() -> None:
    """32 threads meeting a cold cache share one discovery and one JWKS request."""
    issuer = LocalIssuer(ISSUER, AUDIENCE)
    transport = SlowJwks(issuer, 0.2)
    tokens = [issuer.mint(sub=f"user{i}") for i in range(32)]
    with TokenVerifier(ISSUER, AUDIENCE, transport=transport) as verifier:
        barrier = threading.Barrier(32)

        def verify(token: str) -> str | None:
            barrier.wait()
            return verifier.verify_sync(token).sub

        with ThreadPoolExecutor(32) as pool:
            subjects = list(pool.map(verify, tokens))
        assert subjects == [f"user{i}" for i in range(32)]
        assert verifier.sync_keys.fetch_counts == {"discovery": 1, "jwks": 1}


def test_an_async_only_transport_is_refused_at_the_first_sync_call() -> None:
    """An httpx.AsyncBaseTransport serves verify(); verify_sync() names transport."""

    class AsyncOnly(httpx.AsyncBaseTransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            raise AssertionError("never used")

    issuer = LocalIssuer(ISSUER, AUDIENCE)
    verifier = TokenVerifier(ISSUER, AUDIENCE, transport=AsyncOnly())
    with pytest.raises(ConfigurationError, match="transport"):
        verifier.verify_sync(issuer.mint())
