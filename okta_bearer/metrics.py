"""Prometheus metrics for okta_bearer (``pip install 'okta-bearer[metrics]'``).

Why Prometheus' own client rather than OpenTelemetry: it is one small,
dependency-free package that every Prometheus-compatible system scrapes
(Prometheus, Grafana Agent, Datadog, the OpenTelemetry Collector's
``prometheus`` receiver), and its registry can be read back in a test.
OpenTelemetry needs an API, an SDK and an exporter chosen per deployment;
users who run it subclass :class:`okta_bearer.metrics.Events` in a few lines
(the hooks carry everything the series below are built from).

Series (``namespace`` defaults to ``okta_bearer``)::

    okta_bearer_requests_total{outcome, reason}          requests judged, once each
    okta_bearer_verification_seconds{outcome}            time spent judging (histogram)
    okta_bearer_fetches_total{kind, issuer, result}      discovery / jwks / introspection
                                                         requests, result ok or error
    okta_bearer_fetch_seconds{kind}                      their duration (histogram)
    okta_bearer_cache_lookups_total{cache, result}       hit / miss; hit ratio =
                                                         hit / (hit + miss)

``cache`` is ``token`` (verified JWTs), ``keys`` (a token's signing key in the
cached key set), ``introspection``, and with a shared store ``keys_shared`` and
``introspection_shared``.  Outcomes and reasons are listed in
:class:`Events.request`.

Wiring: give the same instance to the middleware (requests) and to the
verifiers (fetches and caches)::

    from okta_bearer.metrics import PrometheusEvents
    events = PrometheusEvents()
    protect(app, issuer=..., audience=..., events=events)   # builds the verifier
    # or: BearerAuthMiddleware(app, TokenVerifier(..., events=events), events=events)

then serve ``prometheus_client.generate_latest(events.registry)`` (see
``examples/metrics_app.py``).
"""

from __future__ import annotations

try:
    from prometheus_client import CollectorRegistry, Counter, Histogram
except ImportError as exc:  # pragma: no cover - exercised in a subprocess test
    raise ImportError(
        "okta_bearer.metrics needs prometheus-client: pip install 'okta-bearer[metrics]'"
    ) from exc

from ._events import Events
from ._options import checked_options

__all__ = ["Events", "PrometheusEvents"]

# Verification is microseconds when cached, one round trip when not.
_VERIFY_BUCKETS = (0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0)
_FETCH_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


@checked_options
class PrometheusEvents(Events):
    """:class:`Events` recorded as Prometheus counters and histograms.

    Args:
        registry: where the series are registered; a fresh
            ``CollectorRegistry`` by default (pass ``prometheus_client.REGISTRY``
            to expose them with the process's default metrics).
        namespace: prefix of every series name.
    """

    def __init__(
        self, registry: CollectorRegistry | None = None, *, namespace: str = "okta_bearer"
    ) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r, ns = self.registry, namespace
        self._requests = Counter(
            "requests", "Access tokens judged", ("outcome", "reason"), namespace=ns, registry=r
        )
        self._latency = Histogram(
            "verification_seconds",
            "Time spent judging a token",
            ("outcome",),
            namespace=ns,
            registry=r,
            buckets=_VERIFY_BUCKETS,
        )
        self._fetches = Counter(
            "fetches",
            "HTTP requests to the issuer",
            ("kind", "issuer", "result"),
            namespace=ns,
            registry=r,
        )
        self._fetch_latency = Histogram(
            "fetch_seconds",
            "Duration of HTTP requests to the issuer",
            ("kind",),
            namespace=ns,
            registry=r,
            buckets=_FETCH_BUCKETS,
        )
        self._cache = Counter(
            "cache_lookups", "Cache lookups", ("cache", "result"), namespace=ns, registry=r
        )

    def request(self, outcome: str, reason: str, seconds: float) -> None:
        self._requests.labels(outcome, reason).inc()
        self._latency.labels(outcome).observe(seconds)

    def fetch(self, kind: str, issuer: str, ok: bool, seconds: float) -> None:
        self._fetches.labels(kind, issuer, "ok" if ok else "error").inc()
        self._fetch_latency.labels(kind).observe(seconds)

    def cache(self, kind: str, hit: bool) -> None:
        self._cache.labels(kind, "hit" if hit else "miss").inc()
