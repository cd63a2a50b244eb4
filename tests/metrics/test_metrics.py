"""Prometheus series after known traffic: requests by outcome, fetches, cache hits, latency."""

from __future__ import annotations

import httpx
import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from okta_bearer import BearerError, TokenShapeVerifier
from okta_bearer._events import Events
from okta_bearer._testing.opaque import IntrospectionServer
from okta_bearer.metrics import PrometheusEvents
from okta_bearer.testing import LocalIssuer

pytestmark = pytest.mark.anyio


def scrape(events: PrometheusEvents) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of the registry's text exposition, by (name, labels)."""
    text = generate_latest(events.registry).decode()
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(
    samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str
) -> float:
    """One sample's value (0 when the series was never touched)."""
    return samples.get((name, frozenset(labels.items())), 0.0)


async def test_verifier_series_after_known_traffic() -> None:
    """Known traffic through the verifiers alone shows up exactly in the fetch and cache series."""
    local = LocalIssuer()
    server = IntrospectionServer(local)
    events = PrometheusEvents()
    verifier = TokenShapeVerifier(
        local.verifier(events=events, transport=server.transport()), server.verifier(events=events)
    )
    opaque = server.mint_opaque(scp=["items:read"])
    async with verifier:
        for _ in range(3):
            await verifier.verify(opaque, ["items:read"])  # 1 miss + 2 hits, 1 introspection
        jwt = local.mint()
        await verifier.verify(jwt)  # checked locally: discovery, keys
        await verifier.verify(jwt)  # token cache hit
        with pytest.raises(BearerError):
            await verifier.verify("unknown-opaque-token")  # active: false
        server.answer_override = httpx.Response(500)
        with pytest.raises(BearerError):
            await verifier.verify(server.mint_opaque())  # outage: 503

    samples = scrape(events)
    assert value(samples, "okta_bearer_requests_total", outcome="ok", reason="ok") == 0
    fetches = "okta_bearer_fetches_total"
    assert value(samples, fetches, kind="discovery", issuer=local.issuer, result="ok") == 2
    assert value(samples, fetches, kind="jwks", issuer=local.issuer, result="ok") == 1
    assert value(samples, fetches, kind="introspection", issuer=local.issuer, result="ok") == 2
    assert value(samples, fetches, kind="introspection", issuer=local.issuer, result="error") == 1
    cache = "okta_bearer_cache_lookups_total"
    assert value(samples, cache, cache="introspection", result="hit") == 2
    assert value(samples, cache, cache="introspection", result="miss") == 3
    assert value(samples, cache, cache="token", result="hit") == 1
    assert value(samples, cache, cache="token", result="miss") == 1
    assert value(samples, cache, cache="keys", result="miss") == 1
    assert value(samples, "okta_bearer_fetch_seconds_count", kind="introspection") == 3
    assert value(samples, "okta_bearer_fetch_seconds_count", kind="jwks") == 1


async def test_default_events_do_nothing() -> None:
    """The default hooks accept every call and record nothing (no metrics library needed)."""
    events = Events()
    events.request("ok", "ok", 0.1)
    events.fetch("jwks", "https://issuer.example", False, 0.1)
    events.cache("token", True)
    assert vars(events) == {}


def test_namespace_and_registry_are_configurable() -> None:
    """Two PrometheusEvents with their own registries and prefixes do not collide."""
    one, two = PrometheusEvents(namespace="api_one"), PrometheusEvents(namespace="api_two")
    one.request("ok", "ok", 0.001)
    assert value(scrape(one), "api_one_requests_total", outcome="ok", reason="ok") == 1
    assert value(scrape(two), "api_two_requests_total", outcome="ok", reason="ok") == 0
