"""Signing keys: issuer discovery and the JWKS cache (the I/O edge).

Policy, in one place (the numbers live in :class:`~okta_bearer.KeyPolicy`):

* Keys are fetched over an ``httpx.AsyncClient`` the store owns (built on an
  optional injected transport), with a total time budget, no redirects, a
  body size cap and ``Accept: application/json, application/jwk-set+json``.
* One fetch at a time (single-flight): concurrent callers on a cold cache all
  await the same task, so N requests cause one discovery and one JWKS fetch.
* Freshness comes from ``Cache-Control: max-age``, clamped to
  ``[min_ttl, max_ttl]``; without it ``default_ttl`` applies.  From
  ``REFRESH_AHEAD`` seconds before expiry a refresh runs in the background
  while requests keep using the current keys.
* Rotation is picked up at once: a token naming an unknown ``kid`` triggers a
  refetch immediately, however recently a scheduled or start-up fetch ran.
  Only refetches *caused by unknown kids* are rate-limited, to one per
  ``unknown_kid_interval``, so a flood of random kids costs a bounded number
  of fetches while a genuine new key is seen within one interval.  A request
  that arrives while a refresh is in flight waits for that refresh first.
* A key that a refresh no longer lists is withdrawn: the store tells its
  listener (the verifier drops cached tokens signed by it).
* Any failure while fetching or parsing discovery or the JWKS (HTTP error,
  timeout, bad JSON, a member of the wrong type, cancellation) keeps the last
  good keys and logs a warning; they keep serving for ``max_stale`` seconds
  past their expiry.  A cold start, a stale set past that, or an unknown
  ``kid`` while the issuer is failing is :class:`KeysUnavailable` (503), never
  blamed on the token.  After a failure no fetch starts for
  ``KeyPolicy.retry_backoff`` seconds.
* Keys become bound signature checks once per fetch (:mod:`okta_bearer._jwt.jwk`);
  weak, private, symmetric and encryption keys are never used.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import re
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TypeVar
from urllib.parse import urlsplit

import httpx

from .._config import KeyPolicy, is_loopback_url
from .._errors import InvalidToken, KeysUnavailable
from .._events import Events
from .._jwt.jwk import SignatureCheck, build_keys
from .._store.memory import Store
from .fleet import Fleet, FleetError

__all__ = ["REFRESH_AHEAD", "FetchError", "KeyStore"]

logger = logging.getLogger("okta_bearer")

REFRESH_AHEAD = 30.0
_MAX_BODY = 256 * 1024
_ACCEPT = "application/json, application/jwk-set+json"
_MAX_AGE = re.compile(r"(?:^|[,\s])max-age\s*=\s*\"?(\d+)")
_T = TypeVar("_T")
_NO_CACHE = re.compile(r"(?:^|[,\s])(?:no-cache|no-store)(?:$|[,\s])")


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
    if isinstance(exc, (httpx.TimeoutException, asyncio.TimeoutError)):
        return f"no answer within KeyPolicy.timeout ({timeout:g} s): is the issuer reachable?"
    if isinstance(exc, (httpx.TransportError, OSError)):
        return "the host cannot be reached from here: check the host name, DNS, proxy, firewall"
    return ""


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


@dataclass(frozen=True, slots=True)
class _KeySet:
    checks: Mapping[str, Mapping[str, SignatureCheck]]
    fetched_at: float
    expires_at: float
    stale_until: float


class KeyStore:
    """The signing keys of one issuer, discovered, fetched and cached.

    Use :meth:`get`; everything else is policy described in the module
    docstring.

    Args:
        issuer: the configured issuer (already validated).
        jwks_uri: the JWKS URI, or ``None`` to discover it.
        algorithms: the algorithms keys are prepared for.
        policy: timeouts, TTLs, outage tolerance and the unknown-kid interval.
        transport: the httpx transport to fetch over (the store owns the client).
        clock: seconds since the epoch.
        on_withdrawn: called with the kids a refresh no longer lists.
        store: a store shared by every process of the fleet; key sets are
            then fetched once for all of them (see :mod:`okta_bearer._keys.fleet`).
        events: metric hooks for key lookups and fetches (``None``: none).
    """

    def __init__(
        self,
        *,
        issuer: str,
        jwks_uri: str | None,
        algorithms: Iterable[str],
        policy: KeyPolicy,
        transport: httpx.AsyncBaseTransport | None,
        clock: Callable[[], float],
        on_withdrawn: Callable[[frozenset[str]], None] | None = None,
        store: Store | None = None,
        events: Events | None = None,
    ) -> None:
        self._issuer = issuer
        self._events = events
        self._jwks_uri = jwks_uri
        self._algorithms = tuple(algorithms)
        self._policy = policy
        self._transport = transport
        self._client: httpx.AsyncClient | None = None
        self._clock = clock
        self._on_withdrawn = on_withdrawn
        self._keys: _KeySet | None = None
        self._task: asyncio.Task[None] | None = None
        self._failed_at = -math.inf  # last failed attempt; -inf once one succeeds
        self._failure = ""  # why the last attempt failed, with a hint (for warm_up)
        self._last_kid_refetch = -math.inf
        self._fleet = (
            None
            if store is None
            else Fleet(
                store,
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
        )
        #: HTTP requests made, by kind ("discovery", "jwks"); for tests and metrics.
        self.fetch_counts: dict[str, int] = {"discovery": 0, "jwks": 0}

    @property
    def jwks_uri(self) -> str | None:
        """The JWKS URI, configured or discovered (``None`` until discovered)."""
        return self._jwks_uri

    @property
    def kids(self) -> frozenset[str]:
        """The kids of the current key set (empty before the first fetch)."""
        return frozenset(self._keys.checks) if self._keys else frozenset()

    async def get(self, kid: str, alg: str) -> SignatureCheck:
        """Return the signature check of key ``kid`` for algorithm ``alg``.

        Raises:
            InvalidToken: the kid is unknown (after the refetch it may cause)
                or its key does not fit ``alg``.
            KeysUnavailable: no keys can be had, or the issuer is failing and
                the kid may be one we could not load.
        """
        now = self._clock()
        keyset = self._keys
        if self._events is not None:
            # A hit: the cached key set, still usable, lists the kid (no fetch needed).
            hit = keyset is not None and now < keyset.stale_until and kid in keyset.checks
            self._events.cache("keys", hit)
        if keyset is None:
            keyset = await self._refresh_now(now)
        elif now >= keyset.expires_at - REFRESH_AHEAD:
            if now < keyset.stale_until:
                self._refresh_in_background(now)
            else:
                keyset = await self._refresh_now(now)
        entry = keyset.checks.get(kid)
        if entry is None and self._task is not None:
            # A refresh is in flight, perhaps the one that publishes this kid.
            keyset = await self._refresh_now(now)
            entry = keyset.checks.get(kid)
        if entry is None:
            entry = await self._refetch_for_unknown(kid, now)
        check = entry.get(alg)
        if check is None:
            raise InvalidToken("key_mismatch", "Token algorithm does not fit its key")
        return check

    async def warm_up(self) -> str | None:
        """Fetch discovery and keys now (at start-up), so the first request finds them.

        Bounded by ``KeyPolicy.timeout``.  Returns ``None`` when keys are
        ready, else why they are not (safe to log, with what to check).
        """
        keyset = self._keys
        if keyset is not None and self._clock() < keyset.expires_at:
            return None
        try:
            await self._refresh_now(self._clock())
        except KeysUnavailable:
            return self._failure or "signing keys could not be fetched"
        return None

    async def _refetch_for_unknown(self, kid: str, now: float) -> Mapping[str, SignatureCheck]:
        if self._failing():
            # The issuer is down: the token may be signed by a key we could not
            # load, so this is a server condition, not the token's fault.
            if now - self._failed_at >= self._policy.retry_backoff:
                keyset = await self._refresh_now(now, kid)
                entry = keyset.checks.get(kid)
                if entry is not None:
                    return entry
                if not self._failing():
                    raise InvalidToken("unknown_kid", "Token signing key is not known")
            raise self._unavailable(now)
        if now - self._last_kid_refetch < self._policy.unknown_kid_interval:
            raise InvalidToken("unknown_kid", "Token signing key is not known")
        self._last_kid_refetch = now
        keyset = await self._refresh_now(now, kid)
        entry = keyset.checks.get(kid)
        if entry is None:
            if self._failing():
                raise self._unavailable(self._clock())
            raise InvalidToken("unknown_kid", "Token signing key is not known")
        return entry

    def _failing(self) -> bool:
        return self._failed_at != -math.inf

    def _unavailable(self, now: float) -> KeysUnavailable:
        retry = max(1, math.ceil(self._failed_at + self._policy.retry_backoff - now))
        return KeysUnavailable("keys_unavailable", "Signing keys are unavailable", retry)

    def _refresh_in_background(self, now: float) -> None:
        if self._task is None and now - self._failed_at >= self._policy.retry_backoff:
            self._start()

    async def _refresh_now(self, now: float, kid: str | None = None) -> _KeySet:
        task = self._task
        if task is None:
            if now - self._failed_at < self._policy.retry_backoff:
                return self._usable_or_raise(now)
            task = self._start(kid)
        # shield: a cancelled request must not cancel the fetch others wait for.
        await asyncio.wait([asyncio.shield(task)])
        return self._usable_or_raise(self._clock())

    def _usable_or_raise(self, now: float) -> _KeySet:
        keyset = self._keys
        if keyset is not None and now < keyset.stale_until:
            return keyset
        raise self._unavailable(now)

    def _start(self, kid: str | None = None) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(self._refresh(kid))
        self._task = task
        return task

    async def _refresh(self, kid: str | None) -> None:
        try:
            await asyncio.wait_for(self._fetch_and_store(kid), self._policy.timeout)
        except asyncio.CancelledError:
            self._failed_at = self._clock()
            logger.info(
                "okta_bearer: key refresh for %s cancelled",
                self._issuer,
                extra={"reason": "keys_refresh_cancelled", "issuer": self._issuer},
            )
            raise
        except Exception as exc:  # any failure is a refresh failure
            self._failed_at = self._clock()
            kept = "keeping the last good keys" if self._keys else "no keys yet"
            if isinstance(exc, asyncio.TimeoutError):  # an OSError too, since Python 3.11
                reason = f"timed out after {self._policy.timeout:g} s"
            elif isinstance(exc, (FetchError, FleetError, httpx.HTTPError, OSError)):
                reason = str(exc) or type(exc).__name__
            else:
                reason = f"unexpected {type(exc).__name__}"
            hint = failure_hint(exc, self._policy.timeout)
            self._failure = f"{reason}; hint: {hint}" if hint else reason
            logger.warning(
                "okta_bearer: key refresh for %s failed (%s); %s",
                self._issuer,
                reason,
                kept,
                extra={"reason": "keys_refresh_failed", "issuer": self._issuer},
            )
        finally:
            self._task = None

    async def _download(self) -> tuple[str, object, float]:
        # From the issuer: (jwks_uri, JWKS document, freshness in seconds).
        if self._jwks_uri is None:
            self._jwks_uri = await self._reported("discovery", self._discover())
        self.fetch_counts["jwks"] += 1
        document, cache_control = await self._reported("jwks", self._get_json(self._jwks_uri))
        return self._jwks_uri, document, _ttl(cache_control, self._policy)

    async def _reported(self, kind: str, fetch: Awaitable[_T]) -> _T:
        # One fetch event per discovery (all its candidate URLs) or JWKS request;
        # a timeout cancels us, which is a failure too.
        events = self._events
        if events is None:
            return await fetch
        start = time.perf_counter()
        try:
            result = await fetch
        except BaseException:
            events.fetch(kind, self._issuer, False, time.perf_counter() - start)
            raise
        events.fetch(kind, self._issuer, True, time.perf_counter() - start)
        return result

    async def _download_checked(self) -> tuple[str, object, float]:
        # What a fleet publishes must be usable by every process.
        jwks_uri, document, ttl = await self._download()
        if not build_keys(document, self._algorithms):
            raise FetchError("JWKS holds no usable signing key")
        return jwks_uri, document, ttl

    async def _fetch_and_store(self, kid: str | None) -> None:
        if self._fleet is None:
            _, document, ttl = await self._download()
            fetched_at = self._clock()
        else:
            ours = self._keys.fetched_at if self._keys else -math.inf
            shared = await self._fleet.obtain(self._download_checked, kid=kid, ours_fetched_at=ours)
            self._jwks_uri = shared.jwks_uri
            document, ttl, fetched_at = shared.document, shared.ttl, shared.fetched_at
        checks = build_keys(document, self._algorithms)
        if not checks:
            raise FetchError("JWKS holds no usable signing key")
        previous = self._keys
        expires_at = fetched_at + ttl
        self._keys = _KeySet(checks, fetched_at, expires_at, expires_at + self._policy.max_stale)
        self._failed_at = -math.inf
        if previous is not None and self._on_withdrawn is not None:
            withdrawn = frozenset(previous.checks).difference(checks)
            if withdrawn:
                logger.info(
                    "okta_bearer: %d signing key(s) of %s withdrawn",
                    len(withdrawn),
                    self._issuer,
                    extra={"reason": "keys_withdrawn", "issuer": self._issuer},
                )
                self._on_withdrawn(withdrawn)

    def _discovery_urls(self) -> list[str]:
        base = self._issuer.rstrip("/")
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

    async def _discover(self) -> str:
        last = "no metadata URL answered"
        for url in self._discovery_urls():
            self.fetch_counts["discovery"] += 1
            try:
                document, _ = await self._get_json(url)
            except _NotFound as exc:
                last = str(exc)
                continue  # 4xx: try the next well-known location
            if not isinstance(document, dict):
                raise FetchError(f"metadata at {url} is not a JSON object")
            # RFC 8414 section 3.3: the metadata must name the configured issuer.
            got = document.get("issuer")
            if got != self._issuer:
                hint = issuer_mismatch_hint(self._issuer, got)
                logger.error(
                    "okta_bearer: metadata at %s names another issuer:\n"
                    "  configured issuer: %r\n  metadata issuer:   %r\n  hint: %s",
                    url,
                    self._issuer,
                    got if isinstance(got, str) else None,
                    hint,
                    extra={"reason": "issuer_mismatch", "issuer": self._issuer},
                )
                raise _IssuerMismatch(
                    f"metadata at {url} names issuer {str(got)[:200]!r}, not the configured one",
                    hint,
                )
            return _checked_jwks_uri(document.get("jwks_uri"), url)
        raise _NotFound(last)

    async def _get_json(self, url: str) -> tuple[object, str | None]:
        client = self._client
        if client is None:
            client = self._client = httpx.AsyncClient(
                transport=self._transport, timeout=self._policy.timeout, follow_redirects=False
            )
        request = client.build_request("GET", url, headers={"Accept": _ACCEPT})
        response = await client.send(request, stream=True, follow_redirects=False)
        try:
            if 400 <= response.status_code < 500:
                raise _NotFound(f"{url} answered HTTP {response.status_code}")
            if response.status_code != 200:
                raise FetchError(f"{url} answered HTTP {response.status_code}")
            declared = response.headers.get("content-length", "")
            # Digits only (str.isdigit also takes "²"), and no int() of thousands of them.
            if re.fullmatch(r"[0-9]+", declared) and (
                len(declared) > len(str(_MAX_BODY)) or int(declared) > _MAX_BODY
            ):
                raise FetchError(f"{url} body is larger than {_MAX_BODY} bytes")
            body = bytearray()
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > _MAX_BODY:
                    raise FetchError(f"{url} body is larger than {_MAX_BODY} bytes")
        finally:
            await response.aclose()
        try:
            document = json.loads(bytes(body))
        except (ValueError, RecursionError) as exc:
            raise FetchError(f"{url} did not answer JSON") from exc
        return document, response.headers.get("cache-control")

    async def aclose(self) -> None:
        """Cancel a refresh in flight and close the HTTP client."""
        task = self._task
        if task is not None:
            task.cancel()
            await asyncio.wait([task])
        if self._client is not None:
            await self._client.aclose()
            self._client = None


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
