"""examples/metrics_app.py: known traffic through protect(), then an exact scrape of /metrics."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from okta_bearer import TokenShapeVerifier
from okta_bearer._cli import load_example
from okta_bearer._testing.opaque import IntrospectionServer
from okta_bearer.metrics import PrometheusEvents
from okta_bearer.testing import LocalIssuer

from ..helpers import bearer

pytestmark = pytest.mark.anyio

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


@pytest.fixture
def server() -> IntrospectionServer:
    """An in-memory issuer with an introspection endpoint."""
    return IntrospectionServer(LocalIssuer())


@pytest.fixture
async def api(server: IntrospectionServer) -> AsyncIterator[httpx.AsyncClient]:
    """The example app, its verifiers fed by the in-memory issuer (one transport for both)."""
    module = load_example("metrics_app")
    events = PrometheusEvents()
    verifier = TokenShapeVerifier(
        server.local.verifier(transport=server.transport(), events=events),
        server.verifier(events=events),
    )
    app = module.create_app(verifier=verifier, events=events)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:9404") as client:
        yield client
    await verifier.aclose()


async def scrape(api: httpx.AsyncClient) -> Samples:
    """Every sample /metrics serves, by (name, sorted labels)."""
    scraped = await api.get("/metrics")
    assert scraped.status_code == 200
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(scraped.text)
        for s in family.samples
    }


def requests(samples: Samples, outcome: str, reason: str) -> float:
    """okta_bearer_requests_total for one outcome and reason (0 if never seen)."""
    key = ("okta_bearer_requests_total", (("outcome", outcome), ("reason", reason)))
    return samples.get(key, 0.0)


def lookups(samples: Samples, cache: str, result: str) -> float:
    """okta_bearer_cache_lookups_total for one cache and result (0 if never seen)."""
    key = ("okta_bearer_cache_lookups_total", (("cache", cache), ("result", result)))
    return samples.get(key, 0.0)


def fetches(samples: Samples, kind: str, issuer: str, result: str) -> float:
    """okta_bearer_fetches_total for one kind, issuer and result (0 if never seen)."""
    labels = (("issuer", issuer), ("kind", kind), ("result", result))
    return samples.get(("okta_bearer_fetches_total", labels), 0.0)


async def test_metrics_endpoint_counts_the_traffic(
    api: httpx.AsyncClient, server: IntrospectionServer
) -> None:
    """200s, 401s by reason, a 400, a route's 403 and a 503: each counted once in /metrics."""
    local = server.local
    opaque, revoked = server.mint_opaque(scp=["items:read"]), server.mint_opaque()
    server.revoke(revoked)
    jwt = local.mint(scp=["items:read"])
    traffic: list[tuple[dict[str, str], int]] = [
        (bearer(opaque), 200),  # introspected: a miss, one introspection
        (bearer(opaque), 200),  # an introspection cache hit
        (bearer(jwt), 200),  # token cache miss: discovery + JWKS, key miss
        (bearer(jwt), 200),  # token cache hit
        (bearer(jwt), 200),  # token cache hit
        ({}, 401),  # no token: refused before any verifier
        (bearer(revoked), 401),  # inactive
        (bearer(local.mint(exp=1_000)), 401),  # expired: token miss, key hit
        ({"Authorization": "Bearer a b"}, 400),  # malformed header
        (bearer(local.mint(scp=["other"])), 403),  # the route's require_scopes refuses
    ]
    for headers, status in traffic:
        assert (await api.get("/items", headers=headers)).status_code == status
    server.answer_override = httpx.Response(500)
    assert (await api.get("/items", headers=bearer(server.mint_opaque()))).status_code == 503

    samples = await scrape(api)
    assert requests(samples, "ok", "ok") == 5
    assert requests(samples, "missing_token", "missing_token") == 1
    assert requests(samples, "invalid_token", "inactive") == 1
    assert requests(samples, "invalid_token", "expired") == 1
    assert requests(samples, "invalid_request", "bad_header") == 1
    assert requests(samples, "insufficient_scope", "missing_scope") == 1
    assert requests(samples, "temporarily_unavailable", "introspection_unavailable") == 1
    total = sum(v for (name, _), v in samples.items() if name == "okta_bearer_requests_total")
    assert total == 11  # every request counted once: the 403 is not also an "ok"
    latency = sum(
        v for (name, _), v in samples.items() if name == "okta_bearer_verification_seconds_count"
    )
    assert latency == 11

    issuer = local.issuer
    assert fetches(samples, "discovery", issuer, "ok") == 2  # TokenVerifier's and introspection's
    assert fetches(samples, "jwks", issuer, "ok") == 1
    assert fetches(samples, "introspection", issuer, "ok") == 2  # opaque and revoked ...
    assert fetches(samples, "introspection", issuer, "error") == 1  # ... and the outage

    # JWTs: 3 distinct tokens miss the token cache and look their key up, 2 repeats hit.
    assert lookups(samples, "token", "hit") == 2
    assert lookups(samples, "token", "miss") == 3
    assert lookups(samples, "keys", "miss") == 1  # only the cold start
    assert lookups(samples, "keys", "hit") == 2
    assert lookups(samples, "introspection", "hit") == 1
    assert lookups(samples, "introspection", "miss") == 3
