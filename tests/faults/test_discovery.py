"""Discovery, the shape of key requests, and how long keys stay fresh."""

from __future__ import annotations

import logging

import pytest

from ..helpers import settle
from ._keyserver import ISSUER, json_doc, policy, status, world

pytestmark = pytest.mark.anyio


async def test_discovery_falls_back_to_openid_configuration() -> None:
    """When RFC 8414 metadata is missing, the OpenID configuration names the keys."""
    async with world() as w:
        w.server.path_faults["/oauth-authorization-server"] = status(404)
        assert (await w.get(w.token())).status_code == 200
        paths = [r.url.path for r in w.server.requests]
        assert paths[:2] == [
            "/oauth2/default/.well-known/oauth-authorization-server",
            "/oauth2/default/.well-known/openid-configuration",
        ]
        assert w.verifier.keys.jwks_uri == ISSUER + "/v1/keys"


async def test_configured_jwks_uri_skips_discovery() -> None:
    """With jwks_uri given, no metadata is fetched."""
    async with world(jwks_uri=ISSUER + "/v1/keys") as w:
        assert (await w.get(w.token())).status_code == 200
        assert w.verifier.keys.fetch_counts == {"discovery": 0, "jwks": 1}


async def test_jwks_is_requested_with_the_jwk_set_media_types() -> None:
    """Keys are requested with Accept: application/json, application/jwk-set+json."""
    async with world() as w:
        assert (await w.get(w.token())).status_code == 200
        keys_request = next(r for r in w.server.requests if r.url.path.endswith("/v1/keys"))
        assert keys_request.headers["accept"] == "application/json, application/jwk-set+json"


@pytest.mark.parametrize(
    ("metadata_issuer", "hint"),
    [
        (ISSUER + "/", "trailing slash"),
        (ISSUER.upper(), "letter case"),
        ("https://okta.example.test", "org authorization server"),
        ("https://elsewhere.example/oauth2/default", "exactly"),
    ],
)
async def test_an_issuer_mismatch_is_logged_side_by_side_with_a_hint(
    metadata_issuer: str, hint: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Metadata naming another issuer logs both strings and a hint at ERROR, once per attempt."""
    caplog.set_level(logging.ERROR, logger="okta_bearer")
    async with world() as w:
        metadata = {**w.issuer.metadata(), "issuer": metadata_issuer}
        w.server.faults["discovery"] = json_doc(metadata)
        assert (await w.get(w.token())).status_code == 503
        errors = [r for r in caplog.records if r.levelno == logging.ERROR]
        assert len(errors) == 1
        message = errors[0].getMessage()
        assert repr(ISSUER) in message
        assert repr(metadata_issuer) in message
        assert hint in message
        assert w.server.count("jwks") == 0


async def test_cache_control_max_age_sets_freshness() -> None:
    """The JWKS max-age decides when keys are refreshed (refresh-ahead 30 s before expiry)."""
    async with world(token_cache_size=0) as w:
        w.issuer.keys_max_age = 600
        assert (await w.get(w.token())).status_code == 200
        w.clock.advance(560)
        assert (await w.get(w.token())).status_code == 200
        await settle()
        assert w.server.count("jwks") == 1
        w.clock.advance(20)  # 580 s: inside the refresh-ahead window
        assert (await w.get(w.token())).status_code == 200  # answered with current keys
        await settle()
        assert w.server.count("jwks") == 2


async def test_max_age_is_clamped_to_bounds() -> None:
    """A tiny max-age is raised to min_ttl so the issuer cannot force constant refetching."""
    async with world(token_cache_size=0, keys=policy(min_ttl=300)) as w:
        w.issuer.keys_max_age = 1
        assert (await w.get(w.token())).status_code == 200
        w.clock.advance(200)
        assert (await w.get(w.token())).status_code == 200
        await settle()
        assert w.server.count("jwks") == 1
