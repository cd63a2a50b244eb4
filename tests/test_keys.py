"""Key store: discovery, request shape, freshness.

Rotation, outage, flood and fetch-count behaviour is tested once, in tests/faults.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from okta_bearer import KeyPolicy, KeysUnavailable, TokenVerifier
from okta_bearer.testing import LocalIssuer

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
) -> TokenVerifier:
    return issuer.verifier(transport=httpx.MockTransport(handler), **options)


async def test_discovery_falls_back_to_openid_configuration(okta_issuer: LocalIssuer) -> None:
    """When RFC 8414 metadata is missing, the OpenID configuration is used."""

    def no_oauth_metadata(request: httpx.Request) -> httpx.Response | None:
        if request.url.path.endswith("oauth-authorization-server"):
            return httpx.Response(404)
        return None

    verifier = make(okta_issuer, Switchable(okta_issuer, no_oauth_metadata))
    async with verifier:
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

    verifier = make(okta_issuer, Switchable(okta_issuer, other_issuer))
    async with verifier:
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

    verifier = make(okta_issuer, Switchable(okta_issuer, redirect))
    async with verifier:
        with pytest.raises(KeysUnavailable):
            await verifier.verify(okta_issuer.mint())
    keys_request = next(r for r in okta_issuer.requests if r.url.path.endswith("/v1/keys"))
    assert keys_request.headers["accept"] == "application/json, application/jwk-set+json"
    assert all(r.url.host != "attacker.example" for r in okta_issuer.requests)


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
    async with issuer.verifier(
        clock=clock, token_cache_size=0, keys=KeyPolicy(min_ttl=300)
    ) as verifier:
        await verifier.verify(issuer.mint())
        clock.advance(200)
        await verifier.verify(issuer.mint())
        await settle()
    assert issuer.count("/v1/keys") == 1
