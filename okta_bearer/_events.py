"""Hooks for metrics: what the library reports, with no metrics library imported.

The core calls an :class:`Events` object at a few fixed points; the default
does nothing.  :mod:`okta_bearer.metrics` turns the calls into Prometheus
series, and any other backend (OpenTelemetry, StatsD, logs) is a subclass
overriding the methods it cares about.  Hooks must be cheap and must not
raise: they run on the request path.

Label values are small fixed sets (outcomes, reason codes, issuer URLs from
configuration), never anything taken from a token.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from types import TracebackType

from ._claims import Claims
from ._errors import BearerError
from ._protocols import Verifier

__all__ = ["NO_EVENTS", "Events", "ObservedVerifier"]


class Events:
    """The metric hooks, each a no-op here; subclass and override.

    ``kind`` names what was fetched or looked up: ``"discovery"``, ``"jwks"``,
    ``"introspection"`` for fetches; ``"token"`` (verified JWTs),
    ``"introspection"`` (introspection answers) and ``"keys"`` for caches.
    """

    def request(self, outcome: str, reason: str, seconds: float) -> None:
        """A token was judged: ``outcome`` is ``"ok"`` or the RFC 6750 error
        (``"invalid_token"``, ``"insufficient_scope"``, ``"invalid_request"``,
        ``"missing_token"``, ``"temporarily_unavailable"``); ``reason`` is the
        error's reason code (``"ok"`` on success); ``seconds`` the time verify took.
        """

    def fetch(self, kind: str, issuer: str, ok: bool, seconds: float) -> None:
        """An HTTP request to the issuer finished (``ok`` false on any failure)."""

    def cache(self, kind: str, hit: bool) -> None:
        """A cache lookup hit or missed."""


#: The shared do-nothing instance (the default everywhere).
NO_EVENTS = Events()


def outcome_of(error: BearerError) -> str:
    """The ``outcome`` label for ``error`` (its RFC 6750 code, or ``missing_token``)."""
    return error.error or "missing_token"


class ObservedVerifier:
    """Wrap any :class:`~okta_bearer.Verifier` so each ``verify`` reports to ``events``.

    Reports :meth:`Events.request` with the outcome, reason and duration of
    every call.  Requests the middleware refuses before calling the verifier
    (no token, a malformed header) are not seen here.
    """

    def __init__(
        self,
        verifier: Verifier,
        events: Events,
        *,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.verifier = verifier
        self.events = events
        self._clock = clock

    async def verify(self, token: str, required_scopes: Iterable[str] = ()) -> Claims:
        """Verify through the wrapped verifier, reporting the outcome."""
        start = self._clock()
        try:
            claims = await self.verifier.verify(token, required_scopes)
        except BearerError as error:
            self.events.request(outcome_of(error), error.reason, self._clock() - start)
            raise
        self.events.request("ok", "ok", self._clock() - start)
        return claims

    async def aclose(self) -> None:
        """Close the wrapped verifier."""
        await self.verifier.aclose()

    async def __aenter__(self) -> ObservedVerifier:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
