"""Signing keys: issuer discovery and the JWKS cache (the I/O edge).

Policy, in one place:

* Keys are fetched over an ``httpx.AsyncClient`` (injected, or owned and closed
  by :meth:`KeyStore.aclose`), with a total time budget, no redirects, a body
  size cap and ``Accept: application/json, application/jwk-set+json``.
* One fetch at a time (single-flight): concurrent callers on a cold cache all
  await the same task, so N requests cause one discovery and one JWKS fetch.
* Freshness comes from ``Cache-Control: max-age``, clamped to
  ``[min_ttl, max_ttl]``; without it ``default_ttl`` applies.  From
  ``REFRESH_AHEAD`` seconds before expiry a refresh runs in the background
  while requests keep using the current keys.
* A failed refresh keeps the last good keys, logs a warning, and they keep
  serving for ``max_stale`` seconds past their expiry; only after that, or on a
  cold start, do requests fail with :class:`KeysUnavailable` (503).
* An unknown ``kid`` triggers at most one refetch per ``cooldown`` seconds, so a
  flood of random kids cannot become a flood of fetches.  One that arrives
  while a refresh is in flight waits for that refresh first (it may be the
  one that publishes the kid).
* After a failed fetch, no new fetch starts for ``min(cooldown, 5)`` seconds;
  failures are remembered only that long.
* Keys are turned into ``cryptography`` key objects once per fetch; RSA keys
  under 2048 bits, private or symmetric keys and keys not meant for
  signatures (``use`` other than ``sig``, ``key_ops`` without ``verify``) are
  never used.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx
from jwt.algorithms import Algorithm, get_default_algorithms
from jwt.exceptions import PyJWTError

from ._errors import InvalidToken, KeysUnavailable

__all__ = ["SUPPORTED_ALGORITHMS", "KeyStore", "build_keys"]

logger = logging.getLogger("okta_bearer")

REFRESH_AHEAD = 30.0
_MAX_BODY = 256 * 1024
_ACCEPT = "application/json, application/jwk-set+json"
_MAX_AGE = re.compile(r"(?:^|[,\s])max-age\s*=\s*\"?(\d+)")
_NO_CACHE = re.compile(r"(?:^|[,\s])(?:no-cache|no-store)(?:$|[,\s])")
_PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})

# Algorithm -> (kty, crv) a key must have to be used with it (RFC 7518 section 3).
_KEY_SHAPE: dict[str, tuple[str, frozenset[str] | None]] = {
    "RS256": ("RSA", None),
    "RS384": ("RSA", None),
    "RS512": ("RSA", None),
    "PS256": ("RSA", None),
    "PS384": ("RSA", None),
    "PS512": ("RSA", None),
    "ES256": ("EC", frozenset({"P-256"})),
    "ES384": ("EC", frozenset({"P-384"})),
    "ES512": ("EC", frozenset({"P-521"})),
    "EdDSA": ("OKP", frozenset({"Ed25519", "Ed448"})),
}
SUPPORTED_ALGORITHMS = frozenset(_KEY_SHAPE)
_ALGORITHMS: dict[str, Algorithm] = {
    name: algo for name, algo in get_default_algorithms().items() if name in _KEY_SHAPE
}

#: alg -> (PyJWT algorithm object, prepared public key)
Verifier = tuple[Algorithm, Any]


class FetchError(Exception):
    """A discovery or JWKS fetch failed; the message is safe to log."""


def build_keys(jwks: object, algorithms: Iterable[str]) -> dict[str, dict[str, Verifier]]:
    """Turn a JWKS document into ``{kid: {alg: (algorithm, key)}}``.

    Unusable members are skipped with a log line, never fatal; a document that
    is not ``{"keys": [...]}`` raises :class:`FetchError`.
    """
    if not isinstance(jwks, dict) or not isinstance(jwks.get("keys"), list):
        raise FetchError("JWKS is not an object with a 'keys' list")
    allowed = [alg for alg in algorithms if alg in _KEY_SHAPE]
    result: dict[str, dict[str, Verifier]] = {}
    for jwk in jwks["keys"]:
        if not isinstance(jwk, dict):
            continue
        kid = jwk.get("kid")
        if not isinstance(kid, str) or not kid:
            logger.info("okta_bearer: skipping a JWK without 'kid'")
            continue
        usable = _usable_verifiers(jwk, allowed)
        if usable and kid not in result:
            result[kid] = usable
    return result


def _usable_verifiers(jwk: dict[str, Any], allowed: list[str]) -> dict[str, Verifier]:
    kid = jwk["kid"]
    use = jwk.get("use")
    key_ops = jwk.get("key_ops")
    if use is not None and use != "sig":
        return {}
    if key_ops is not None and (not isinstance(key_ops, list) or "verify" not in key_ops):
        return {}
    if _PRIVATE_MEMBERS.intersection(jwk):
        logger.warning("okta_bearer: JWK %r holds private or symmetric material; ignored", kid)
        return {}
    kty, crv, key_alg = jwk.get("kty"), jwk.get("crv"), jwk.get("alg")
    verifiers: dict[str, Verifier] = {}
    for alg in allowed:
        shape_kty, curves = _KEY_SHAPE[alg]
        if kty != shape_kty or (curves is not None and crv not in curves):
            continue
        if key_alg is not None and key_alg != alg:
            continue  # a JWK's 'alg' pins the one algorithm it may be used with
        algorithm = _ALGORITHMS[alg]
        try:
            key = algorithm.from_jwk(jwk)
        except (PyJWTError, ValueError, TypeError, KeyError):
            logger.warning("okta_bearer: JWK %r could not be parsed; ignored", kid)
            return {}
        key_size = getattr(key, "key_size", None)
        if kty == "RSA" and (key_size is None or key_size < 2048):
            logger.warning("okta_bearer: RSA JWK %r is shorter than 2048 bits; ignored", kid)
            return {}
        verifiers[alg] = (algorithm, key)
    return verifiers


def _ttl(cache_control: str | None, default: float, low: float, high: float) -> float:
    ttl = default
    if cache_control:
        directives = cache_control.lower()
        match = _MAX_AGE.search(directives)
        if match:
            ttl = float(match.group(1))
        elif _NO_CACHE.search(directives):
            ttl = low
    return min(max(ttl, low), high)


@dataclass(frozen=True, slots=True)
class _KeySet:
    keys: Mapping[str, Mapping[str, Verifier]]
    fetched_at: float
    expires_at: float
    stale_until: float = field(default=0.0)


class KeyStore:
    """The keys of one issuer, discovered, fetched and cached.

    Use :meth:`get`; everything else is policy described in the module docstring.
    """

    def __init__(
        self,
        *,
        issuer: str,
        jwks_uri: str | None,
        algorithms: Iterable[str],
        http_client: httpx.AsyncClient | None,
        timeout: float,
        min_ttl: float,
        max_ttl: float,
        default_ttl: float,
        max_stale: float,
        cooldown: float,
        clock: Callable[[], float],
    ) -> None:
        self._issuer = issuer
        self._jwks_uri = jwks_uri
        self._algorithms = tuple(algorithms)
        self._client = http_client
        self._owns_client = http_client is None
        self._timeout = timeout
        self._min_ttl, self._max_ttl, self._default_ttl = min_ttl, max_ttl, default_ttl
        self._max_stale = max_stale
        self._cooldown = cooldown
        self._backoff = min(cooldown, 5.0)
        self._clock = clock
        self._keys: _KeySet | None = None
        self._task: asyncio.Task[None] | None = None
        self._last_attempt = -math.inf
        self._failed_at = -math.inf
        #: Number of HTTP requests made, by kind ("discovery", "jwks"); for tests and metrics.
        self.fetch_counts: dict[str, int] = {"discovery": 0, "jwks": 0}

    @property
    def jwks_uri(self) -> str | None:
        """The JWKS URI, configured or discovered (``None`` until discovered)."""
        return self._jwks_uri

    async def get(self, kid: str, alg: str) -> Verifier:
        """Return the verifier for ``kid`` and ``alg``.

        Raises:
            InvalidToken: the kid is unknown (after at most one refetch per
                cooldown) or its key does not fit ``alg``.
            KeysUnavailable: no keys can be had.
        """
        now = self._clock()
        keyset = self._keys
        if keyset is None:
            keyset = await self._refresh_now(now)
        elif now >= keyset.expires_at - REFRESH_AHEAD:
            if now < keyset.stale_until:
                self._refresh_in_background(now)
            else:
                keyset = await self._refresh_now(now)
        entry = keyset.keys.get(kid)
        if entry is None and self._task is not None:
            # A refresh is in flight, perhaps the one that publishes this kid:
            # wait for it (it is bounded by the timeout) rather than refuse.
            keyset = await self._refresh_now(now)
            entry = keyset.keys.get(kid)
        if entry is None:
            # Unknown kid: maybe a rotation we have not seen.  Refetch at most
            # once per cooldown window (an attacker's random kids cost nothing).
            if now - self._last_attempt < self._cooldown:
                raise InvalidToken("unknown_kid", "Token signing key is not known")
            keyset = await self._refresh_now(now)
            entry = keyset.keys.get(kid)
            if entry is None:
                if self._failed_at >= now:
                    # The refetch failed: the token may be signed by a key we
                    # could not load, so this is not the token's fault.
                    raise KeysUnavailable(
                        "keys_unavailable", "Signing keys are unavailable", math.ceil(self._backoff)
                    )
                raise InvalidToken("unknown_kid", "Token signing key is not known")
        verifier = entry.get(alg)
        if verifier is None:
            raise InvalidToken("key_mismatch", "Token algorithm does not fit its key")
        return verifier

    def _refresh_in_background(self, now: float) -> None:
        if self._task is None and now - self._failed_at >= self._backoff:
            self._start(now)

    async def _refresh_now(self, now: float) -> _KeySet:
        task = self._task
        if task is None:
            if now - self._failed_at < self._backoff:
                return self._usable_or_raise(now)
            task = self._start(now)
        # shield: a cancelled request must not cancel the fetch others wait for.
        await asyncio.wait([asyncio.shield(task)])
        return self._usable_or_raise(self._clock())

    def _usable_or_raise(self, now: float) -> _KeySet:
        keyset = self._keys
        if keyset is not None and now < keyset.stale_until:
            return keyset
        retry = max(1, math.ceil(self._failed_at + self._backoff - now))
        raise KeysUnavailable("keys_unavailable", "Signing keys are unavailable", retry)

    def _start(self, now: float) -> asyncio.Task[None]:
        self._last_attempt = now
        task = asyncio.get_running_loop().create_task(self._refresh())
        self._task = task
        return task

    async def _refresh(self) -> None:
        try:
            await asyncio.wait_for(self._fetch_and_store(), self._timeout)
        except (FetchError, httpx.HTTPError, asyncio.TimeoutError, OSError) as exc:
            self._failed_at = self._clock()
            kept = "keeping the last good keys" if self._keys else "no keys yet"
            reason = str(exc) or type(exc).__name__
            logger.warning(
                "okta_bearer: key refresh for %s failed (%s); %s", self._issuer, reason, kept
            )
        finally:
            self._task = None

    async def _fetch_and_store(self) -> None:
        if self._jwks_uri is None:
            self._jwks_uri = await self._discover()
        self.fetch_counts["jwks"] += 1
        document, cache_control = await self._get_json(self._jwks_uri)
        keys = build_keys(document, self._algorithms)
        if not keys:
            raise FetchError("JWKS holds no usable signing key")
        now = self._clock()
        ttl = _ttl(cache_control, self._default_ttl, self._min_ttl, self._max_ttl)
        self._keys = _KeySet(keys, now, now + ttl, now + ttl + self._max_stale)
        self._failed_at = -math.inf

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
            if document.get("issuer") != self._issuer:
                logger.error(
                    "okta_bearer: metadata at %s names another issuer; check the 'issuer' option",
                    url,
                )
                raise FetchError("metadata issuer does not match the configured issuer")
            jwks_uri = document.get("jwks_uri")
            if not isinstance(jwks_uri, str) or urlsplit(jwks_uri).scheme not in ("https", "http"):
                raise FetchError(f"metadata at {url} has no usable jwks_uri")
            if urlsplit(jwks_uri).scheme == "http" and not _is_loopback(jwks_uri):
                raise FetchError(f"metadata at {url} has a non-https jwks_uri")
            return jwks_uri
        raise FetchError(last)

    async def _get_json(self, url: str) -> tuple[object, str | None]:
        client = self._client
        if client is None:
            client = self._client = httpx.AsyncClient(timeout=self._timeout)
        request = client.build_request(
            "GET", url, headers={"Accept": _ACCEPT}, timeout=self._timeout
        )
        response = await client.send(request, stream=True, follow_redirects=False)
        try:
            if 400 <= response.status_code < 500:
                raise _NotFound(f"{url} answered HTTP {response.status_code}")
            if response.status_code != 200:
                raise FetchError(f"{url} answered HTTP {response.status_code}")
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > _MAX_BODY:
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
        """Cancel a refresh in flight and close the HTTP client if we created it."""
        task = self._task
        if task is not None:
            task.cancel()
        if self._owns_client and self._client is not None:
            await self._client.aclose()
            self._client = None


class _NotFound(FetchError):
    """A 4xx answer: for discovery, the next candidate URL is tried."""


_LOOPBACK = frozenset({"localhost", "127.0.0.1", "::1"})


def _is_loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    return host in _LOOPBACK or host.startswith("127.")
