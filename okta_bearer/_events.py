"""Hooks for metrics: what the library reports, with no metrics library imported.

The core calls an :class:`Events` object at a few fixed points when one is
given (``events=`` on the middleware, ``protect()``, ``TokenVerifier`` and
``IntrospectionVerifier``); without one nothing is called at all, so the
default costs one ``is None`` test.  :mod:`okta_bearer.metrics` turns the calls into Prometheus
series, and any other backend (OpenTelemetry, StatsD, logs) is a subclass
overriding the methods it cares about.  Hooks must be cheap and must not
raise: they run on the request path.

Label values are small fixed sets (outcomes, reason codes, issuer URLs from
configuration), never anything taken from a token.
"""

from __future__ import annotations

from ._errors import BearerError, ConfigurationError

__all__ = ["Events", "check_events", "outcome_of"]


class Events:
    """The metric hooks, each a no-op here; subclass and override.

    ``kind`` names what was fetched or looked up: ``"discovery"``, ``"jwks"``,
    ``"introspection"`` for fetches; for caches ``"token"`` (verified JWTs),
    ``"keys"`` (the signing key a token names, found in the cached key set),
    ``"introspection"`` (introspection answers in this process), and the
    fleet's shared store: ``"keys_shared"`` (a hit when a process adopts the
    key set another one fetched, a miss when it fetches itself) and
    ``"introspection_shared"`` (hits only).
    """

    def request(self, outcome: str, reason: str, seconds: float) -> None:
        """A token was judged: ``outcome`` is ``"ok"`` or the RFC 6750 error
        (``"invalid_token"``, ``"insufficient_scope"``, ``"invalid_request"``,
        ``"missing_token"``, ``"temporarily_unavailable"``...), or
        ``"anonymous"`` (reason ``"missing_token"``) when an ``optional``
        middleware lets a request without a token through; ``reason`` is the
        error's reason code (``"ok"`` on success); ``seconds`` the time spent
        judging the request (reading the header and verifying the token).

        The middleware reports each request once: a refusal when it refuses,
        or when the route refuses with a :class:`~okta_bearer.BearerError`
        (``require_scopes``) before answering; otherwise ``"ok"`` once the
        route starts its answer.
        """

    def fetch(self, kind: str, issuer: str, ok: bool, seconds: float) -> None:
        """An HTTP request to the issuer finished (``ok`` false on any failure)."""

    def cache(self, kind: str, hit: bool) -> None:
        """A cache lookup hit or missed."""


def outcome_of(error: BearerError) -> str:
    """The ``outcome`` label for ``error`` (its RFC 6750 code, or ``missing_token``)."""
    return error.error or "missing_token"


def check_events(events: object) -> Events | None:
    """``events`` if it is ``None`` or an :class:`Events`, else :class:`ConfigurationError`."""
    if events is None or isinstance(events, Events):
        return events
    raise ConfigurationError(
        "events must be an okta_bearer.metrics.Events (e.g. PrometheusEvents()) or None"
    )
