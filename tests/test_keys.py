"""Key store: discovery, single-flight fetching, cooldown, outage tolerance, rotation."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from okta_bearer import InvalidToken, KeysUnavailable
from okta_bearer._keys import build_keys
from okta_bearer.testing import LocalIssuer, SigningKey

from .helpers import Clock, settle

pytestmark = pytest.mark.anyio


class Switchable:
    """Wraps LocalIssuer.handler; `down` makes every request fail with a 500."""

    def __init__(
        self,
        issuer: LocalIssuer,
        override: Callable[[httpx.Request], httpx.Response | None] | None = None,
    ) -> None:
        self.issuer = issuer
        self.down = False
        self.override = override

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if self.down:
            self.issuer.requests.append(request)
            return httpx.Response(500)
        if self.override is not None:
            response = self.override(request)
            if response is not None:
                self.issuer.requests.append(request)
                return response
        return self.issuer.handler(request)


def make(
    issuer: LocalIssuer, handler: Callable[[httpx.Request], httpx.Response], **options: Any
) -> Any:
    client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    return issuer.verifier(http_client=client, **options), client


async def test_cold_start_concurrent_requests_fetch_once(okta_issuer: LocalIssuer) -> None:
    """200 concurrent requests on a cold cache cause one discovery and one JWKS fetch."""
    tokens = [okta_issuer.mint() for _ in range(200)]
    async with okta_issuer.verifier() as verifier:
        results = await asyncio.gather(*(verifier.verify(t) for t in tokens))
    assert len(results) == 200
    assert okta_issuer.count("/.well-known/oauth-authorization-server") == 1
    assert okta_issuer.count("/v1/keys") == 1
    assert verifier.keys.fetch_counts == {"discovery": 1, "jwks": 1}


async def test_warm_cache_makes_no_requests(okta_issuer: LocalIssuer) -> None:
    """Once warm, known-kid tokens cause no HTTP requests."""
    async with okta_issuer.verifier(token_cache_size=0) as verifier:
        await verifier.verify(okta_issuer.mint())
        before = len(okta_issuer.requests)
        for _ in range(50):
            await verifier.verify(okta_issuer.mint())
    assert len(okta_issuer.requests) == before


async def test_discovery_falls_back_to_openid_configuration(okta_issuer: LocalIssuer) -> None:
    """When RFC 8414 metadata is missing, the OpenID configuration is used."""

    def no_oauth_metadata(request: httpx.Request) -> httpx.Response | None:
        if request.url.path.endswith("oauth-authorization-server"):
            return httpx.Response(404)
        return None

    verifier, client = make(okta_issuer, Switchable(okta_issuer, no_oauth_metadata))
    async with client, verifier:
        await verifier.verify(okta_issuer.mint())
    assert okta_issuer.count("/.well-known/openid-configuration") == 1
    assert verifier.keys.jwks_uri == okta_issuer.issuer + "/v1/keys"


async def test_discovery_with_another_issuer_is_refused(okta_issuer: LocalIssuer) -> None:
    """Metadata naming another issuer is refused (RFC 8414 3.3): 503, never a 200."""

    def other_issuer(request: httpx.Request) -> httpx.Response | None:
        if "/.well-known/" in request.url.path:
            return httpx.Response(
                200, json={**okta_issuer.metadata(), "issuer": "https://evil.example"}
            )
        return None

    verifier, client = make(okta_issuer, Switchable(okta_issuer, other_issuer))
    async with client, verifier:
        with pytest.raises(KeysUnavailable):
            await verifier.verify(okta_issuer.mint())
    assert okta_issuer.count("/v1/keys") == 0


async def test_configured_jwks_uri_skips_discovery(okta_issuer: LocalIssuer) -> None:
    """With jwks_uri given, no metadata is fetched."""
    async with okta_issuer.verifier(jwks_uri=okta_issuer.issuer + "/v1/keys") as verifier:
        await verifier.verify(okta_issuer.mint())
    assert verifier.keys.fetch_counts == {"discovery": 0, "jwks": 1}


async def test_jwks_request_headers_and_no_redirects(okta_issuer: LocalIssuer) -> None:
    """Keys are requested with the JWK Set media types, and a redirect is not followed."""

    def redirect(request: httpx.Request) -> httpx.Response | None:
        if request.url.path.endswith("/v1/keys"):
            return httpx.Response(302, headers={"location": "https://attacker.example/keys"})
        return None

    verifier, client = make(okta_issuer, Switchable(okta_issuer, redirect))
    async with client, verifier:
        with pytest.raises(KeysUnavailable):
            await verifier.verify(okta_issuer.mint())
    keys_request = next(r for r in okta_issuer.requests if r.url.path.endswith("/v1/keys"))
    assert keys_request.headers["accept"] == "application/json, application/jwk-set+json"
    assert all(r.url.host != "attacker.example" for r in okta_issuer.requests)


async def test_random_kids_refetch_at_most_once_per_cooldown() -> None:
    """A flood of unknown kids causes at most one refetch per cooldown window."""
    clock = Clock()
    issuer = LocalIssuer(clock=clock)
    async with issuer.verifier(clock=clock, unknown_kid_cooldown=30) as verifier:
        await verifier.verify(issuer.mint())
        assert issuer.count("/v1/keys") == 1
        clock.advance(31)
        for _ in range(1000):
            token = issuer.mint(header={"kid": secrets.token_hex(8)})
            with pytest.raises(InvalidToken, match="unknown_kid"):
                await verifier.verify(token)
        assert issuer.count("/v1/keys") == 2
        clock.advance(31)
        with pytest.raises(InvalidToken, match="unknown_kid"):
            await verifier.verify(issuer.mint(header={"kid": "another"}))
        assert issuer.count("/v1/keys") == 3
        # Known tokens kept working throughout.
        await verifier.verify(issuer.mint())


async def test_rotation_new_kid_accepted_after_one_refetch() -> None:
    """A token signed by a newly published key is accepted after a single refetch."""
    clock = Clock()
    issuer = LocalIssuer(clock=clock)
    async with issuer.verifier(clock=clock) as verifier:
        await verifier.verify(issuer.mint())
        clock.advance(31)  # past the unknown-kid cooldown
        issuer.rotate()
        claims = await verifier.verify(issuer.mint())
    assert claims.sub
    assert issuer.count("/v1/keys") == 2


async def test_removed_kid_rejected_after_refresh() -> None:
    """Once the JWKS no longer lists a key, its tokens are rejected after the next refresh."""
    clock = Clock()
    issuer = LocalIssuer(clock=clock, keys_max_age=300)
    old_token = issuer.mint()
    async with issuer.verifier(clock=clock, token_cache_size=0) as verifier:
        await verifier.verify(old_token)
        issuer.rotate(keep_old=False)
        clock.advance(301)
        await verifier.verify(old_token)  # served by the current keys; refresh in background
        await settle()
        with pytest.raises(InvalidToken, match="unknown_kid"):
            await verifier.verify(old_token)


async def test_outage_after_warm_keeps_known_keys() -> None:
    """A failed refresh keeps the last good keys serving until keys_max_stale runs out."""
    clock = Clock()
    issuer = LocalIssuer(clock=clock, keys_max_age=300)
    handler = Switchable(issuer)
    verifier, client = make(issuer, handler, clock=clock, token_cache_size=0, keys_max_stale=3600)
    async with client, verifier:
        await verifier.verify(issuer.mint())
        handler.down = True
        clock.advance(400)  # keys expired; the issuer is down
        await verifier.verify(issuer.mint())
        await settle()
        assert issuer.count("/v1/keys") == 2  # the background refresh was tried and failed
        clock.advance(3000)
        await verifier.verify(issuer.mint())  # still within max_stale
        clock.advance(1000)  # now past expiry + max_stale
        with pytest.raises(KeysUnavailable) as info:
            await verifier.verify(issuer.mint())
        assert info.value.status == 503
        assert info.value.retry_after >= 1
        handler.down = False
        clock.advance(10)
        await verifier.verify(issuer.mint())  # recovery


async def test_cold_start_outage_is_503_then_recovers() -> None:
    """With no keys at all the answer is 503 (never 401), and the failure is not cached forever."""
    clock = Clock()
    issuer = LocalIssuer(clock=clock)
    handler = Switchable(issuer)
    handler.down = True
    verifier, client = make(issuer, handler, clock=clock, unknown_kid_cooldown=30)
    async with client, verifier:
        with pytest.raises(KeysUnavailable):
            await verifier.verify(issuer.mint())
        attempts = len(issuer.requests)
        with pytest.raises(KeysUnavailable):
            await verifier.verify(issuer.mint())  # within the backoff: no new fetch
        assert len(issuer.requests) == attempts
        handler.down = False
        clock.advance(6)
        await verifier.verify(issuer.mint())


async def test_cache_control_max_age_sets_freshness() -> None:
    """The JWKS max-age decides when keys are refreshed (refresh-ahead 30 s before expiry)."""
    clock = Clock()
    issuer = LocalIssuer(clock=clock, keys_max_age=600)
    async with issuer.verifier(clock=clock, token_cache_size=0) as verifier:
        await verifier.verify(issuer.mint())
        clock.advance(560)
        await verifier.verify(issuer.mint())
        await settle()
        assert issuer.count("/v1/keys") == 1
        clock.advance(20)  # 580 s: inside the refresh-ahead window
        await verifier.verify(issuer.mint())  # answered at once with current keys
        await settle()
        assert issuer.count("/v1/keys") == 2


async def test_max_age_is_clamped_to_bounds() -> None:
    """A tiny max-age is raised to keys_min_ttl so the issuer cannot force constant refetching."""
    clock = Clock()
    issuer = LocalIssuer(clock=clock, keys_max_age=1)
    async with issuer.verifier(clock=clock, token_cache_size=0, keys_min_ttl=300) as verifier:
        await verifier.verify(issuer.mint())
        clock.advance(200)
        await verifier.verify(issuer.mint())
        await settle()
    assert issuer.count("/v1/keys") == 1


def jwk(key: SigningKey, **changes: Any) -> dict[str, Any]:
    return {**key.public_jwk, **changes}


def test_unusable_keys_are_skipped() -> None:
    """Weak RSA, encryption-only, private, symmetric and kid-less keys are never used."""
    good = SigningKey.generate("RS256", kid="good")
    weak = SigningKey.generate("RS256", kid="weak", key_size=1024)
    enc = SigningKey.generate("RS256", kid="enc")
    ops = SigningKey.generate("RS256", kid="ops")
    private = {**good.public_jwk, "kid": "private", "d": "AQAB"}
    document = {
        "keys": [
            jwk(good),
            jwk(weak),
            jwk(enc, use="enc"),
            jwk(ops, key_ops=["encrypt"]),
            private,
            {"kty": "oct", "kid": "sym", "k": "c2VjcmV0"},
            {k: v for k, v in good.public_jwk.items() if k != "kid"},
            "not a key",
        ]
    }
    assert set(build_keys(document, ["RS256"])) == {"good"}


def test_key_alg_pins_algorithm() -> None:
    """A JWK without 'alg' serves every allowed algorithm of its type; with 'alg', only that one."""
    key = SigningKey.generate("RS256", kid="k")
    unpinned = {k: v for k, v in key.public_jwk.items() if k != "alg"}
    assert set(build_keys({"keys": [unpinned]}, ["RS256", "PS256", "ES256"])["k"]) == {
        "RS256",
        "PS256",
    }
    assert set(build_keys({"keys": [key.public_jwk]}, ["RS256", "PS256"])["k"]) == {"RS256"}


@pytest.mark.parametrize("document", [None, [], {"keys": "x"}, {"nokeys": []}])
def test_bad_jwks_documents(document: object) -> None:
    """A JWKS that is not {"keys": [...]} is a fetch failure."""
    with pytest.raises(Exception, match="keys"):
        build_keys(document, ["RS256"])
