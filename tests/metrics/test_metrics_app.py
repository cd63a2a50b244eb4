"""examples/metrics_app.py: requests through the middleware, then a scrape of /metrics."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from okta_bearer import IntrospectionVerifier, TokenShapeVerifier
from okta_bearer._cli import load_example
from okta_bearer._testing_opaque import IntrospectionServer
from okta_bearer.metrics import PrometheusEvents
from okta_bearer.testing import LocalIssuer

from ..helpers import bearer

pytestmark = pytest.mark.anyio


@pytest.fixture
def server() -> IntrospectionServer:
    """An in-memory issuer with an introspection endpoint."""
    return IntrospectionServer(LocalIssuer())


@pytest.fixture
async def api(server: IntrospectionServer) -> AsyncIterator[httpx.AsyncClient]:
    """The example app, its verifiers fed by the in-memory issuer."""
    module = load_example("metrics_app")
    events = PrometheusEvents()
    opaque: IntrospectionVerifier = server.verifier(events=events)
    verifier = TokenShapeVerifier(server.local.verifier(), opaque)
    app = module.create_app(verifier=verifier, events=events)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:9404") as client:
        yield client
    await verifier.aclose()


async def test_metrics_endpoint_counts_the_traffic(
    api: httpx.AsyncClient, server: IntrospectionServer
) -> None:
    """After 2 good opaque requests, 1 revoked and 1 JWT, /metrics shows exactly those."""
    token = server.mint_opaque(scp=["items:read"])
    revoked = server.mint_opaque(scp=["items:read"])
    server.revoke(revoked)
    statuses = [
        (await api.get("/items", headers=bearer(t))).status_code
        for t in (token, token, revoked, server.local.mint())
    ]
    assert statuses == [200, 200, 401, 200]
    scraped = await api.get("/metrics")
    assert scraped.status_code == 200
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(scraped.text)
        for s in family.samples
    }
    assert samples[("okta_bearer_requests_total", (("outcome", "ok"), ("reason", "ok")))] == 3
    inactive = (("outcome", "invalid_token"), ("reason", "inactive"))
    assert samples[("okta_bearer_requests_total", inactive)] == 1
    hits = (("cache", "introspection"), ("result", "hit"))
    misses = (("cache", "introspection"), ("result", "miss"))
    assert samples[("okta_bearer_cache_lookups_total", hits)] == 1
    assert samples[("okta_bearer_cache_lookups_total", misses)] == 2
