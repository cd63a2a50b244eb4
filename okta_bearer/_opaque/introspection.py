"""IntrospectionVerifier: ask the issuer whether a token is active (RFC 7662).

For tokens a resource server cannot check itself: opaque tokens, tokens of
Okta's org authorization server, or any token whose revocation must be seen
before it expires.  This module does the I/O; every decision (what an answer
or a status means, how long an answer is kept, when to stop asking) is in
``cache_policy.py``.  Policy, in one place:

* The endpoint is configured, or read from the issuer's metadata
  (``introspection_endpoint``; the metadata must name the configured issuer,
  RFC 8414 section 3.3).  The resource server authenticates as a client
  (``client_secret_basic``, ``client_secret_post`` or ``private_key_jwt``).
* Each request sends ``token`` and ``token_type_hint=access_token`` (RFC 7662
  section 2.1), with no redirects and a 256 KiB cap on the answer.
* One budget: ``timeout`` (5 s) bounds everything a request spends on
  introspection, waiting for a free slot, for another worker's answer, and
  its own call together.
* Only ``"active": true`` (the JSON literal) is active.  Then the answer is
  judged like a JWT's claims: ``iss`` (when present) must be the configured
  issuer, ``aud`` must name this API, ``exp`` must be present and in the
  future, ``nbf``/``iat`` sane, optional client allow-list, then scopes.
* A 400 to one token is that token's problem: it is treated as not active
  (401), and nothing else changes.  Failures of the endpoint itself (a
  transport error, a timeout, 5xx, 429, 401/403 to our credentials, a
  redirect) are 503 with ``Retry-After`` and, for ``retry_after`` seconds (or
  the endpoint's own ``Retry-After``, up to 300 s), new tokens fail fast
  instead of piling on; cached answers keep working.  A 200 whose body is not
  an answer is 503 for that request only.  Nothing failed is cached.
* Answers are cached in a :class:`~okta_bearer._store.memory.Store` (a bounded
  memory store unless one is given; Redis shares them across workers) under a
  SHA-256 of the token, never the token, with the time the issuer gave them:
  an active answer ``cache_ttl`` from then and never past ``exp``,
  ``active: false`` for ``inactive_ttl``.  A revoked token is therefore
  refused at most ``cache_ttl`` seconds after the answer that called it
  active, in every worker (RFC 7662 section 4 discusses this trade-off).  In
  front of the store, an in-process LRU of built claims (like
  ``TokenVerifier``'s cache, same bounds) makes a cached answer cost what a
  cached JWT costs.
* One introspection per token at a time in a process (single-flight); with a
  shared store, one across the fleet (a lease, see ``_store/lease.py``).
* A budget of calls: at most ``max_concurrent`` in flight per process and
  ``max_rate`` a second, counted across the fleet when a store is given.  A
  new token beyond it gets 503 (``Retry-After: 1``) without a call, so a
  flood of random tokens reaches the issuer at ``max_rate`` a second.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
import time
from collections.abc import Callable, Iterable
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

import httpx
from cachetools import LRUCache

from .._config import check_int, check_number, check_strings, check_url
from .._errors import ConfigurationError, IntrospectionUnavailable, InvalidToken
from .._events import Events, check_events
from .._http.rfc6750 import is_scope_token
from .._jwt.claims import Claims
from .._jwt.validation import Policy, check_scopes, validate_claims
from .._store.lease import Fetched, shared_fetch
from .._store.memory import MemoryStore, Store, StoreUnavailable
from .cache_policy import (
    Backoff,
    CachePolicy,
    Entry,
    TokenBucket,
    outcome,
    parse_answer,
    parse_json,
    retry_after_seconds,
    window_key,
)
from .client_auth import ClientAuth

__all__ = ["IntrospectionUnavailable", "IntrospectionVerifier"]

logger = logging.getLogger("okta_bearer")

_MAX_BODY = 256 * 1024
_FORM = "application/x-www-form-urlencoded"
_TOKEN_TYPES = frozenset({"bearer", "dpop"})
_BUDGET_LOG_EVERY = 10.0


class _BadAnswer(Exception):
    """The endpoint answered, but not with a usable introspection response."""


class _EndpointFailed(Exception):
    """The endpoint itself failed: new tokens fail fast for ``backoff`` seconds."""

    def __init__(self, message: str, backoff: int | None = None) -> None:
        super().__init__(message)
        self.backoff = backoff


class IntrospectionVerifier:
    """Verify access tokens by asking the issuer's introspection endpoint (RFC 7662).

    Args:
        issuer: the authorization server's issuer URL; an answer's ``iss``, when
            present, must equal it, and its metadata gives the endpoint.
        audience: accepted ``aud`` value(s); the answer must carry one of them.
        client_id: the resource server's own client id at the issuer.
        client_secret: its secret (``client_secret_basic``/``_post``).
        auth_method: ``client_secret_basic`` (default with a secret),
            ``client_secret_post`` or ``private_key_jwt`` (default with a key).
        private_key: for ``private_key_jwt``: a ``cryptography`` private key or
            an unencrypted PEM; ``private_key_id`` its ``kid`` and
            ``private_key_algorithm`` the signing algorithm (RS256).
        introspection_endpoint: the endpoint, when it should not be discovered.
        required_scopes: scopes every token must hold (routes can add more).
        client_ids: accept only tokens whose ``client_id`` is listed.
        leeway: clock skew tolerated on ``exp``, ``nbf`` and ``iat`` (seconds).
        max_token_size: longer tokens are refused without a request.
        store: where answers are cached and shared; a memory store by default.
        cache_ttl: longest an active answer is trusted (seconds, default 60).
        inactive_ttl: how long ``active: false`` is remembered (default 5).
        timeout: the budget of one request: total seconds it may spend on
            introspection (waiting included), and of a discovery request.
        retry_after: seconds announced in ``Retry-After`` (and the fail-fast
            window) after the endpoint failed.
        max_concurrent: introspection calls in flight at once in this process.
        max_rate: introspection calls a second: per process, and across the
            fleet when ``store`` is given (a counter in the store).
        transport: an ``httpx.AsyncBaseTransport`` (tests, proxies).
        events: metric hooks (see :mod:`okta_bearer.metrics`): answers found
            in the in-process cache and the shared store, introspection and
            discovery requests.  ``None`` (the default) calls nothing.
        clock: seconds since the epoch; injectable for tests.

    Raises:
        ConfigurationError: at construction, naming the offending option.
    """

    def __init__(
        self,
        issuer: str,
        audience: str | Iterable[str],
        *,
        client_id: str,
        client_secret: str | None = None,
        auth_method: str | None = None,
        private_key: object = None,
        private_key_id: str | None = None,
        private_key_algorithm: str = "RS256",
        introspection_endpoint: str | None = None,
        required_scopes: Iterable[str] = (),
        client_ids: Iterable[str] | None = None,
        leeway: float = 30.0,
        max_token_size: int = 16 * 1024,
        store: Store | None = None,
        cache_ttl: float = 60.0,
        inactive_ttl: float = 5.0,
        local_cache_size: int = 4096,
        timeout: float = 5.0,
        retry_after: int = 5,
        max_concurrent: int = 8,
        max_rate: float = 50.0,
        transport: httpx.AsyncBaseTransport | None = None,
        events: Events | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.issuer = check_url("issuer", issuer)
        self._endpoint = (
            None
            if introspection_endpoint is None
            else check_url("introspection_endpoint", introspection_endpoint)
        )
        audiences = check_strings("audience", audience, allow_empty=False)
        self.required_scopes = check_strings("required_scopes", required_scopes, allow_empty=True)
        for scope in self.required_scopes:
            if not is_scope_token(scope):
                raise ConfigurationError(f"required_scopes: {scope!r} is not a valid scope name")
        ids = (
            None
            if client_ids is None
            else frozenset(check_strings("client_ids", client_ids, allow_empty=False))
        )
        self._auth = ClientAuth(
            client_id,
            method=auth_method,
            client_secret=client_secret,
            private_key=private_key,
            private_key_id=private_key_id,
            private_key_algorithm=private_key_algorithm,
        )  # assertions carry wall-clock time: the server judges them by its own
        if store is not None and not isinstance(store, Store):
            raise ConfigurationError("store must implement okta_bearer Store")
        if transport is not None and not isinstance(transport, httpx.AsyncBaseTransport):
            raise ConfigurationError("transport must be an httpx.AsyncBaseTransport")
        self._policy = Policy(
            issuer=self.issuer,
            audiences=frozenset(audiences),
            leeway=check_number("leeway", leeway, 0, 300),
            client_ids=ids,
        )
        self._max_size = check_int("max_token_size", max_token_size, 512, 1024 * 1024)
        self._cache = CachePolicy(
            cache_ttl=check_number("cache_ttl", cache_ttl, 0.001, 86400),
            inactive_ttl=check_number("inactive_ttl", inactive_ttl, 0.001, 3600),
        )
        self._timeout = check_number("timeout", timeout, 0.01, 120)
        self._retry_after = check_int("retry_after", retry_after, 1, 3600)
        self._max_concurrent = check_int("max_concurrent", max_concurrent, 1, 10_000)
        # Made in the loop that uses it: a verifier may outlive one event loop (test clients).
        self._slots: tuple[asyncio.AbstractEventLoop, asyncio.Semaphore] | None = None
        self._bucket = TokenBucket(check_number("max_rate", max_rate, 1, 1_000_000), clock())
        self._backoff = Backoff()
        self._budget_logged_at = -math.inf
        self._refused = 0
        check_int("local_cache_size", local_cache_size, 0, 10_000_000)
        # The default store runs on the verifier's clock, so a test clock expires it too.
        self._store: Store = store if store is not None else MemoryStore(clock=clock)
        self._owns_store = store is None
        self._shares_budget = store is not None
        self._events = check_events(events)
        self._clock = clock
        self._client = httpx.AsyncClient(
            transport=transport, timeout=self._timeout, follow_redirects=False
        )
        # Namespace of this verifier's answers in a shared store: another issuer
        # or client asking about the same token must not read our answers.
        ident = f"{self.issuer}\n{client_id}".encode()
        self._namespace = "introspection:" + hashlib.sha256(ident).hexdigest()[:16]
        # Claims (or None for inactive) by token, with their deadline.
        self._local: LRUCache[str, tuple[Claims | None, float]] | None = (
            LRUCache(maxsize=local_cache_size) if local_cache_size else None
        )
        self._inflight: dict[str, asyncio.Task[Entry]] = {}
        self._discovery: asyncio.Task[str] | None = None
        #: HTTP requests made, by kind ("discovery", "introspection"); for tests and metrics.
        self.fetch_counts: dict[str, int] = {"discovery": 0, "introspection": 0}

    @property
    def introspection_endpoint(self) -> str | None:
        """The endpoint, configured or discovered (``None`` until discovered)."""
        return self._endpoint

    async def verify(self, token: str, required_scopes: Iterable[str] = ()) -> Claims:
        """Return the claims of an active ``token``.

        An answer with ``token_type: DPoP`` or a ``cnf`` gives claims with a
        ``binding`` (RFC 9449 section 6.2): as for ``TokenVerifier.verify``,
        a caller that got the token without a proof calls
        :func:`okta_bearer.check_bearer` on them.

        Raises:
            InvalidToken: the issuer says the token is not active, or its answer
                fails a claim check (401).
            InsufficientScope: a required scope is missing (403).
            IntrospectionUnavailable: the issuer cannot answer, or the call
                budget is spent (503).
        """
        if not isinstance(token, str):
            raise InvalidToken("malformed", "Token is malformed")
        now = self._clock()
        local = self._local
        # In-process memory only (as TokenVerifier's cache); the shared store sees a hash.
        # Each entry's deadline is at or before the token's exp (cache_policy.py).
        hit = None if local is None else local.get(token)
        if hit is not None and now < hit[1]:
            if self._events is not None:
                self._events.cache("introspection", True)
            claims = hit[0]
        else:
            if not token or not token.isascii():
                raise InvalidToken("malformed", "Token is malformed")
            if len(token) > self._max_size:
                raise InvalidToken("too_large", "Token is too large")
            if self._events is not None:
                self._events.cache("introspection", False)
            digest = hashlib.sha256(token.encode("ascii")).hexdigest()
            entry = await self._answer(digest, token)
            now = self._clock()
            claims = self._judge(token, entry.answer, now, self._cache.deadline(entry, now))
        if claims is None:
            raise InvalidToken("inactive", "Token is not active")
        if required_scopes or self.required_scopes:
            check_scopes(claims, (*self.required_scopes, *required_scopes))
        return claims

    def _judge(
        self, token: str, answer: dict[str, Any], now: float, deadline: float
    ) -> Claims | None:
        local = self._local
        if answer["active"] is not True:
            if local is not None and now < deadline:
                local[token] = (None, deadline)
            return None
        payload = {k: v for k, v in answer.items() if k != "active"}
        # RFC 7662 section 2.2: iss is optional; the endpoint speaks for our issuer.
        payload.setdefault("iss", self.issuer)
        token_type = payload.get("token_type")
        if token_type is not None and (
            not isinstance(token_type, str) or token_type.lower() not in _TOKEN_TYPES
        ):
            # A refresh token is "active" too at some servers: not an access token.
            raise InvalidToken("bad_token_type", "Token is not an access token")
        claims = validate_claims(payload, self._policy, now)
        if local is not None and now < deadline:
            local[token] = (claims, deadline)
        return claims

    async def _answer(self, digest: str, token: str) -> Entry:
        task = self._inflight.get(digest)
        if task is None:
            task = asyncio.get_running_loop().create_task(self._lookup(digest, token))
            self._inflight[digest] = task
            task.add_done_callback(lambda _: self._inflight.pop(digest, None))
        # shield: a cancelled request must not cancel the lookup others wait for.
        return await asyncio.shield(task)

    async def _lookup(self, digest: str, token: str) -> Entry:
        key = f"{self._namespace}:{digest}"
        deadline = asyncio.get_running_loop().time() + self._timeout

        def usable(document: bytes) -> bool:
            entry = Entry.decode(document)
            now = self._clock()
            return entry is not None and now < self._cache.deadline(entry, now)

        ours: list[Entry] = []

        async def fetch() -> Fetched:
            entry = Entry(await self._introspect(token, deadline), self._clock())
            ours.append(entry)
            return entry.encode(), self._cache.deadline(entry, entry.fetched_at) - entry.fetched_at

        try:
            # The one budget: waiting for a slot or another worker, and our call.
            document, fetched = await asyncio.wait_for(
                shared_fetch(self._store, key, fetch, lease_ttl=self._timeout, usable=usable),
                self._timeout,
            )
        except asyncio.TimeoutError:
            logger.warning(
                "okta_bearer: no introspection answer within the %s s budget",
                self._timeout,
                extra={"reason": "introspection_unavailable", "issuer": self.issuer},
            )
            raise IntrospectionUnavailable(self._retry_after) from None
        if not fetched and self._events is not None:
            self._events.cache("introspection_shared", True)
        entry = ours[0] if ours else Entry.decode(document)
        if entry is None:  # cannot happen: usable() decoded it; never a 500 if it does
            raise IntrospectionUnavailable(self._retry_after)
        return entry

    async def _spend(self, now: float) -> None:
        """Take one call from the budget or raise 503: backoff, rate per process, then fleet."""
        retry = self._backoff.remaining(now)
        if retry is not None:
            raise IntrospectionUnavailable(retry)
        if not self._bucket.take(now):
            raise self._over_budget("this process")
        if self._shares_budget:
            try:
                count = await self._store.increment(window_key(self._namespace, now), 2.0)
            except StoreUnavailable:
                return  # the per-process budget still holds
            if count > self._bucket.rate:
                raise self._over_budget("the fleet")

    def _slots_of(self, loop: asyncio.AbstractEventLoop) -> asyncio.Semaphore:
        if self._slots is None or self._slots[0] is not loop:
            self._slots = (loop, asyncio.Semaphore(self._max_concurrent))
        return self._slots[1]

    def _over_budget(self, whose: str) -> IntrospectionUnavailable:
        # Logged at most once per _BUDGET_LOG_EVERY seconds: a flood must not become a log flood.
        now = self._clock()
        self._refused += 1
        if now >= self._budget_logged_at + _BUDGET_LOG_EVERY or now < self._budget_logged_at:
            logger.warning(
                "okta_bearer: introspection budget (%s calls a second) spent in %s; "
                "%s new tokens got 503 without a call since the last report",
                self._bucket.rate,
                whose,
                self._refused,
                extra={"reason": "introspection_budget", "issuer": self.issuer},
            )
            self._budget_logged_at, self._refused = now, 0
        return IntrospectionUnavailable(1)

    async def _introspect(self, token: str, deadline: float) -> dict[str, Any]:
        await self._spend(self._clock())
        endpoint = await self._discovered()
        async with self._slots_of(asyncio.get_running_loop()):
            started = asyncio.get_running_loop().time()
            start = time.perf_counter()
            self.fetch_counts["introspection"] += 1
            try:
                answer = await self._post(endpoint, token)
            except (_EndpointFailed, _BadAnswer, httpx.HTTPError, OSError) as exc:
                if self._events is not None:
                    elapsed = time.perf_counter() - start
                    self._events.fetch("introspection", self.issuer, False, elapsed)
                backoff = None if isinstance(exc, _BadAnswer) else self._retry_after
                if isinstance(exc, _EndpointFailed) and exc.backoff is not None:
                    backoff = exc.backoff
                raise self._failed(f"introspection at {endpoint} failed", exc, backoff) from exc
            except asyncio.CancelledError:
                # The budget ran out during our own call, which had at least half
                # of it: the endpoint is too slow (not merely late after a wait).
                now = asyncio.get_running_loop().time()
                if now >= deadline and deadline - started >= self._timeout / 2:
                    self._backoff.failed(self._clock(), self._retry_after)
                raise
        if self._events is not None:
            self._events.fetch("introspection", self.issuer, True, time.perf_counter() - start)
        return answer

    def _failed(
        self, what: str, exc: BaseException, backoff: int | None
    ) -> IntrospectionUnavailable:
        now = self._clock()
        if backoff is not None:
            self._backoff.failed(now, backoff)
        logger.warning(
            "okta_bearer: %s (%s)",
            what,
            str(exc) or type(exc).__name__,
            extra={"reason": "introspection_unavailable", "issuer": self.issuer},
        )
        return IntrospectionUnavailable(self._backoff.remaining(now) or self._retry_after)

    async def _post(self, endpoint: str, token: str) -> dict[str, Any]:
        form = {"token": token, "token_type_hint": "access_token"}
        headers = self._auth.apply(endpoint, form)
        headers.update({"Accept": "application/json", "Content-Type": _FORM})
        request = self._client.build_request("POST", endpoint, data=form, headers=headers)
        status, response_headers, body = await self._send(request)
        verdict = outcome(status)
        if verdict == "token_refused":
            # RFC 7662 section 2.2: a token the server cannot use is not active.
            logger.info(
                "okta_bearer: %s answered HTTP %s to one token; treated as not active",
                endpoint,
                status,
                extra={"reason": "introspection_token_refused", "issuer": self.issuer},
            )
            return {"active": False}
        if verdict == "endpoint_failed":
            if status in (401, 403):
                logger.error(
                    "okta_bearer: %s refused our client credentials (HTTP %s); check client_id, "
                    "the secret or key, and auth_method",
                    endpoint,
                    status,
                    extra={"reason": "client_auth_refused", "issuer": self.issuer},
                )
            wait = retry_after_seconds(response_headers.get("retry-after"), self._clock())
            raise _EndpointFailed(f"HTTP {status}", wait)
        answer = parse_answer(body)
        if answer is None:
            raise _BadAnswer("the answer is not a JSON object with a boolean 'active'")
        return answer

    async def _send(self, request: httpx.Request) -> tuple[int, httpx.Headers, bytes]:
        response = await self._client.send(request, stream=True, follow_redirects=False)
        try:
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > _MAX_BODY:
                raise _BadAnswer(f"body larger than {_MAX_BODY} bytes")
            body = bytearray()
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > _MAX_BODY:
                    raise _BadAnswer(f"body larger than {_MAX_BODY} bytes")
        finally:
            await response.aclose()
        return response.status_code, response.headers, bytes(body)

    async def _discovered(self) -> str:
        if self._endpoint is not None:
            return self._endpoint
        task = self._discovery
        if task is None:
            task = self._discovery = asyncio.get_running_loop().create_task(self._discover())
        try:
            return await asyncio.shield(task)
        finally:
            if task.done():
                self._discovery = None

    async def _discover(self) -> str:
        start = time.perf_counter()
        try:
            endpoint = await asyncio.wait_for(self._find_endpoint(), self._timeout)
        except (_BadAnswer, httpx.HTTPError, asyncio.TimeoutError, OSError) as exc:
            if self._events is not None:
                self._events.fetch("discovery", self.issuer, False, time.perf_counter() - start)
            raise self._failed(
                f"discovery for {self.issuer} failed", exc, self._retry_after
            ) from exc
        if self._events is not None:
            self._events.fetch("discovery", self.issuer, True, time.perf_counter() - start)
        self._endpoint = endpoint
        return endpoint

    async def _find_endpoint(self) -> str:
        base = self.issuer.rstrip("/")
        parts = urlsplit(base)
        urls = [
            f"{base}/.well-known/oauth-authorization-server",
            f"{base}/.well-known/openid-configuration",
        ]
        if parts.path:  # RFC 8414 section 3.1: well-known segment before the path
            urls.append(
                f"{parts.scheme}://{parts.netloc}/.well-known/oauth-authorization-server{parts.path}"
            )
        last = "no metadata URL answered"
        for url in urls:
            self.fetch_counts["discovery"] += 1
            request = self._client.build_request("GET", url, headers={"Accept": "application/json"})
            status, _, body = await self._send(request)
            if 400 <= status < 500:
                last = f"{url} answered HTTP {status}"
                continue
            if status != 200:
                raise _BadAnswer(f"{url} answered HTTP {status}")
            try:
                meta = parse_json(body)
            except ValueError as exc:
                raise _BadAnswer(f"{url} did not answer JSON") from exc
            if not isinstance(meta, dict) or meta.get("issuer") != self.issuer:
                raise _BadAnswer(f"metadata at {url} does not name the configured issuer")
            endpoint = meta.get("introspection_endpoint")
            try:
                return check_url("introspection_endpoint", endpoint)
            except ConfigurationError as exc:
                raise _BadAnswer(f"metadata at {url} has no usable introspection_endpoint") from exc
        raise _BadAnswer(last)

    async def warm_up(self) -> list[str]:
        """Discover the introspection endpoint now (at start-up), when it is not configured.

        Bounded by ``timeout``; never raises for an issuer problem.

        Returns:
            The problems found (empty when the endpoint is known).
        """
        try:
            await self._discovered()
        except IntrospectionUnavailable as exc:
            cause = exc.__cause__
            why = (str(cause) or type(cause).__name__) if cause is not None else "unavailable"
            return [f"issuer {self.issuer}: introspection endpoint discovery failed ({why})"]
        return []

    async def aclose(self) -> None:
        """Cancel lookups in flight and close the HTTP client (and the default store)."""
        for task in list(self._inflight.values()):
            task.cancel()
        if self._discovery is not None:
            self._discovery.cancel()
        await self._client.aclose()
        if self._owns_store:
            await self._store.aclose()

    async def __aenter__(self) -> IntrospectionVerifier:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
