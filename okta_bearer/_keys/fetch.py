"""Where one issuer's signing keys come from: discovery, the JWKS request, the fleet copy.

Each step is a flow (:mod:`okta_bearer._flow`), written once and run by the
async driver (:class:`~okta_bearer._keys.keystore.KeyStore`) and the sync one
(:class:`~okta_bearer._keys.sync_keystore.SyncKeyStore`):

* discovery tries the RFC 8414 locations in turn (a 4xx moves on to the
  next), requires the metadata to name the configured issuer exactly
  (section 3.3; a mismatch is logged with a hint) and holds its ``jwks_uri``
  to the rule of a configured one (https, or http on a loopback address);
* the JWKS request sends ``Accept: application/json,
  application/jwk-set+json``, never follows a redirect, reads at most 256 KiB
  and takes its freshness from ``Cache-Control`` (clamped to the policy);
* with a shared store, :mod:`okta_bearer._keys.fleet` decides whether to
  adopt the fleet's copy or fetch under a lease.

:class:`KeySource` also words a failure for the log and for ``warm_up``, so
both drivers report the same way.  When to fetch is not decided here: that is
:mod:`okta_bearer._keys.policy`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections.abc import Callable, Iterable
from typing import Any, TypeVar
from urllib.parse import urlsplit

import httpx

from .._config import KeyPolicy, is_loopback_url
from .._events import Events
from .._flow import BodyTooLarge, Flow, HttpRequest
from .._jwt.jwk import build_keys
from .fleet import Fleet, FleetError
from .policy import REFRESH_AHEAD, Checks

__all__ = [
    "FetchError",
    "KeySource",
    "failure_hint",
    "issuer_mismatch_hint",
]

logger = logging.getLogger("okta_bearer")

_MAX_BODY = 256 * 1024
_ACCEPT = "application/json, application/jwk-set+json"
_MAX_AGE = re.compile(r"(?:^|[,\s])max-age\s*=\s*\"?(\d+)")
_NO_CACHE = re.compile(r"(?:^|[,\s])(?:no-cache|no-store)(?:$|[,\s])")
_T = TypeVar("_T")

#: What a refresh yields: the prepared checks, when they were fetched, their TTL.
Fetched = tuple[Checks, float, float]


class FetchError(Exception):
    """A discovery or JWKS fetch failed; the message is safe to log."""


class _NotFound(FetchError):
    """A 4xx answer: for discovery, the next candidate URL is tried."""


class _IssuerMismatch(FetchError):
    """The metadata names another issuer (RFC 8414 section 3.3); ``hint`` says why."""

    def __init__(self, message: str, hint: str) -> None:
        super().__init__(message)
        self.hint = hint


def failure_hint(exc: BaseException, timeout: float) -> str:
    """What to check after a failed discovery or key fetch (for the start-up log)."""
    if isinstance(exc, _IssuerMismatch):
        return exc.hint
    if isinstance(exc, _NotFound):
        return (
            "nothing is published there: check issuer= (copy the 'issuer' of the "
            "authorization server's metadata, e.g. https://{org}.okta.com/oauth2/default)"
        )
    if isinstance(exc, (httpx.TimeoutException, asyncio.TimeoutError, TimeoutError)):
        return f"no answer within KeyPolicy.timeout ({timeout:g} s): is the issuer reachable?"
    if isinstance(exc, (httpx.TransportError, OSError)):
        return "the host cannot be reached from here: check the host name, DNS, proxy, firewall"
    return ""


def issuer_mismatch_hint(expected: str, got: object) -> str:
    """A short hint explaining why two issuer strings differ (for the error log)."""
    if not isinstance(got, str):
        return "the metadata has no string 'issuer'"
    if got.rstrip("/") == expected.rstrip("/"):
        return "they differ only by a trailing slash; issuers are compared exactly"
    if got.lower() == expected.lower():
        return "they differ only in letter case; issuers are compared exactly"
    if ("/oauth2/" in expected) != ("/oauth2/" in got):
        return (
            "one is an Okta org authorization server (https://{org}.okta.com) and the other "
            "a custom authorization server (https://{org}.okta.com/oauth2/{id}); use the one "
            "that issues your access tokens"
        )
    return "copy the 'issuer' value of the authorization server's metadata exactly"


def _ttl(cache_control: str | None, policy: KeyPolicy) -> float:
    ttl = policy.default_ttl
    if cache_control:
        directives = cache_control.lower()
        match = _MAX_AGE.search(directives)
        if match:
            ttl = float(match.group(1))
        elif _NO_CACHE.search(directives):
            ttl = policy.min_ttl
    return min(max(ttl, policy.min_ttl), policy.max_ttl)


def _checked_jwks_uri(value: object, source: str) -> str:
    # A discovered jwks_uri obeys the same rule as a configured one: https, or
    # plain http only on a real loopback address.
    if not isinstance(value, str):
        raise FetchError(f"metadata at {source} has no string jwks_uri")
    try:
        parts = urlsplit(value)
        host = parts.hostname
    except ValueError as exc:
        raise FetchError(f"metadata at {source} has an invalid jwks_uri") from exc
    if not host or parts.scheme not in ("https", "http"):
        raise FetchError(f"metadata at {source} has no usable jwks_uri")
    if parts.scheme == "http" and not is_loopback_url(value):
        raise FetchError(f"metadata at {source} has a non-https jwks_uri")
    return value


def get_json(url: str) -> Flow[tuple[object, str | None]]:
    """GET ``url`` as JSON: the document and its ``Cache-Control`` (a flow)."""
    try:
        response = yield HttpRequest("GET", url, {"Accept": _ACCEPT}, max_body=_MAX_BODY)
    except BodyTooLarge as exc:
        raise FetchError(str(exc)) from exc
    if 400 <= response.status < 500:
        raise _NotFound(f"{url} answered HTTP {response.status}")
    if response.status != 200:
        raise FetchError(f"{url} answered HTTP {response.status}")
    try:
        document = json.loads(response.body)
    except (ValueError, RecursionError) as exc:
        raise FetchError(f"{url} did not answer JSON") from exc
    return document, response.headers.get("cache-control")


class KeySource:
    """One issuer's key fetching as flows, with the failure wording both drivers log.

    Args:
        issuer: the configured issuer.
        jwks_uri: the configured JWKS URI, ``None`` to discover it.
        algorithms: the algorithms keys are prepared for.
        policy: the numbers (timeout, TTL clamps, kid interval, staleness).
        clock: seconds since the epoch (the verifier's, injectable).
        shared: whether a fleet store is configured (the driver supplies it).
        events: metric hooks for fetches (``None``: none).
    """

    def __init__(
        self,
        *,
        issuer: str,
        jwks_uri: str | None,
        algorithms: Iterable[str],
        policy: KeyPolicy,
        clock: Callable[[], float],
        shared: bool,
        events: Events | None,
    ) -> None:
        self.issuer = issuer
        #: The JWKS URI, configured or discovered (``None`` until discovered).
        self.jwks_uri = jwks_uri
        self._algorithms = tuple(algorithms)
        self._policy = policy
        self._clock = clock
        self._events = events
        self.fleet = (
            Fleet(
                issuer=issuer,
                jwks_uri=jwks_uri,
                algorithms=self._algorithms,
                clock=clock,
                timeout=policy.timeout,
                interval=policy.unknown_kid_interval,
                refresh_ahead=REFRESH_AHEAD,
                max_stale=policy.max_stale,
                events=events,
            )
            if shared
            else None
        )
        #: HTTP requests made, by kind ("discovery", "jwks"); for tests and metrics.
        self.fetch_counts: dict[str, int] = {"discovery": 0, "jwks": 0}

    def refresh(self, kid: str | None, ours_fetched_at: float) -> Flow[Fetched]:
        """Fetch (or adopt the fleet's) keys and prepare them: a flow.

        ``kid`` is the unknown kid that caused the refresh (``None``: cold or
        scheduled).  Raises :class:`FetchError` (and whatever the transport
        or the store raises) when no usable key set results.
        """
        if self.fleet is None:
            _, document, ttl = yield from self._download()
            fetched_at = self._clock()
        else:
            shared = yield from self.fleet.obtain(
                self._download_checked, kid=kid, ours_fetched_at=ours_fetched_at
            )
            self.jwks_uri = shared.jwks_uri
            document, ttl, fetched_at = shared.document, shared.ttl, shared.fetched_at
        checks = build_keys(document, self._algorithms)
        if not checks:
            raise FetchError("JWKS holds no usable signing key")
        return checks, fetched_at, ttl

    def _download(self) -> Flow[tuple[str, Any, float]]:
        # From the issuer: (jwks_uri, JWKS document, freshness in seconds).
        if self.jwks_uri is None:
            self.jwks_uri = yield from self._reported("discovery", self._discover())
        self.fetch_counts["jwks"] += 1
        document, cache_control = yield from self._reported("jwks", get_json(self.jwks_uri))
        return self.jwks_uri, document, _ttl(cache_control, self._policy)

    def _download_checked(self) -> Flow[tuple[str, Any, float]]:
        # What a fleet publishes must be usable by every process.
        jwks_uri, document, ttl = yield from self._download()
        if not build_keys(document, self._algorithms):
            raise FetchError("JWKS holds no usable signing key")
        return jwks_uri, document, ttl

    def _reported(self, kind: str, fetch: Flow[_T]) -> Flow[_T]:
        # One fetch event per discovery (all its candidate URLs) or JWKS request;
        # a timeout (cancellation, or the sync budget) is a failure too.
        events = self._events
        if events is None:
            return (yield from fetch)
        start = time.perf_counter()
        try:
            result = yield from fetch
        except BaseException:
            events.fetch(kind, self.issuer, False, time.perf_counter() - start)
            raise
        events.fetch(kind, self.issuer, True, time.perf_counter() - start)
        return result

    def discovery_urls(self) -> list[str]:
        """The metadata locations tried in turn."""
        base = self.issuer.rstrip("/")
        parts = urlsplit(base)
        urls = [
            # Okta custom authorization servers publish RFC 8414 metadata here.
            f"{base}/.well-known/oauth-authorization-server",
            f"{base}/.well-known/openid-configuration",
        ]
        if parts.path:
            # RFC 8414 section 3.1: the well-known segment inserted before the path.
            origin = f"{parts.scheme}://{parts.netloc}"
            urls.append(f"{origin}/.well-known/oauth-authorization-server{parts.path}")
        return urls

    def _discover(self) -> Flow[str]:
        last = "no metadata URL answered"
        for url in self.discovery_urls():
            self.fetch_counts["discovery"] += 1
            try:
                document, _ = yield from get_json(url)
            except _NotFound as exc:
                last = str(exc)
                continue  # 4xx: try the next well-known location
            if not isinstance(document, dict):
                raise FetchError(f"metadata at {url} is not a JSON object")
            # RFC 8414 section 3.3: the metadata must name the configured issuer.
            got = document.get("issuer")
            if got != self.issuer:
                hint = issuer_mismatch_hint(self.issuer, got)
                logger.error(
                    "okta_bearer: metadata at %s names another issuer:\n"
                    "  configured issuer: %r\n  metadata issuer:   %r\n  hint: %s",
                    url,
                    self.issuer,
                    got if isinstance(got, str) else None,
                    hint,
                    extra={"reason": "issuer_mismatch", "issuer": self.issuer},
                )
                raise _IssuerMismatch(
                    f"metadata at {url} names issuer {str(got)[:200]!r}, not the configured one",
                    hint,
                )
            return _checked_jwks_uri(document.get("jwks_uri"), url)
        raise _NotFound(last)

    # -- reporting (the same words from both drivers) -----------------------------

    def failed(self, exc: BaseException, *, had_keys: bool) -> str:
        """Log a failed refresh; why it failed, with a hint (for ``warm_up``)."""
        kept = "keeping the last good keys" if had_keys else "no keys yet"
        # asyncio's (a distinct class before Python 3.11) or the sync budget's.
        if isinstance(exc, (asyncio.TimeoutError, TimeoutError)):  # TimeoutError is an OSError
            reason = f"timed out after {self._policy.timeout:g} s"
        elif isinstance(exc, (FetchError, FleetError, httpx.HTTPError, OSError)):
            reason = str(exc) or type(exc).__name__
        else:
            reason = f"unexpected {type(exc).__name__}"
        hint = failure_hint(exc, self._policy.timeout)
        logger.warning(
            "okta_bearer: key refresh for %s failed (%s); %s",
            self.issuer,
            reason,
            kept,
            extra={"reason": "keys_refresh_failed", "issuer": self.issuer},
        )
        return f"{reason}; hint: {hint}" if hint else reason

    def cancelled(self) -> None:
        """Log a refresh cancelled (at shutdown, or by its time budget's cancellation)."""
        logger.info(
            "okta_bearer: key refresh for %s cancelled",
            self.issuer,
            extra={"reason": "keys_refresh_cancelled", "issuer": self.issuer},
        )

    def withdrawn(
        self, kids: frozenset[str], listener: Callable[[frozenset[str]], None] | None
    ) -> None:
        """Tell ``listener`` (and the log) about keys a refresh no longer lists."""
        if kids and listener is not None:
            logger.info(
                "okta_bearer: %d signing key(s) of %s withdrawn",
                len(kids),
                self.issuer,
                extra={"reason": "keys_withdrawn", "issuer": self.issuer},
            )
            listener(kids)
