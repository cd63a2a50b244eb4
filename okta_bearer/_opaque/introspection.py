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
* Two sides, one policy: ``verify`` (ASGI, an event loop) and ``verify_sync``
  (WSGI threads: Flask, Django) run the same flows (``okta_bearer._flow``:
  the lookup, the lease, the discovery and the POST, written once) with the
  same caches, backoff and budget.  On the sync side, threads presenting one
  new token share one introspection, ``max_concurrent`` is a
  ``threading.BoundedSemaphore`` never waited on past ``timeout``, and no
  lock is held during a network call.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
import os
import threading
import time
import weakref
from collections.abc import Callable, Iterable
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

import httpx
from cachetools import LRUCache

from .._config import (
    async_transport,
    check_int,
    check_number,
    check_strings,
    check_transport,
    check_url,
    sync_transport,
)
from .._errors import ConfigurationError, IntrospectionUnavailable, InvalidToken
from .._events import Events, check_events
from .._flow import (
    Acquire,
    BodyTooLarge,
    Flow,
    HttpRequest,
    HttpResponse,
    Slots,
    StoreCall,
    run,
    run_sync,
)
from .._http.rfc6750 import is_scope_token
from .._jwt.claims import Claims
from .._jwt.validation import Policy, check_scopes, validate_claims
from .._store.lease import Fetched, shared_fetch
from .._store.memory import MemoryStore, Store, StoreUnavailable, SyncStore, sync_face
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

#: Every live verifier, whose sync side is reset in a forked child.
_LIVE: weakref.WeakSet[IntrospectionVerifier] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    for verifier in list(_LIVE):
        verifier._forked()


if hasattr(os, "register_at_fork"):  # not on Windows
    os.register_at_fork(after_in_child=_after_fork_in_child)

_MAX_BODY = 256 * 1024
_FORM = "application/x-www-form-urlencoded"
_TOKEN_TYPES = frozenset({"bearer", "dpop"})
_BUDGET_LOG_EVERY = 10.0

#: A verdict found in the in-process cache: the claims, or ``None`` for inactive.


class _BadAnswer(Exception):
    """The endpoint answered, but not with a usable introspection response."""


class _EndpointFailed(Exception):
    """The endpoint itself failed: new tokens fail fast for ``backoff`` seconds."""

    def __init__(self, message: str, backoff: int | None = None) -> None:
        super().__init__(message)
        self.backoff = backoff


class _Pending:
    """One sync lookup in flight: the threads asking for the same token wait on it."""

    __slots__ = ("done", "entry", "error")

    def __init__(self) -> None:
        self.done = threading.Event()
        self.entry: Entry | None = None
        self.error: BaseException | None = None


class IntrospectionVerifier:
    """Verify access tokens by asking the issuer's introspection endpoint (RFC 7662).

    One object serves both sides: ``verify`` in an event loop (ASGI) and
    ``verify_sync`` in threads (WSGI), with the same configuration, caches
    and budget (see the module docstring).

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
            ``verify_sync`` uses its blocking face (its ``sync`` attribute).
        cache_ttl: longest an active answer is trusted (seconds, default 60).
        inactive_ttl: how long ``active: false`` is remembered (default 5).
        timeout: the budget of one request: total seconds it may spend on
            introspection (waiting included), and of a discovery request.
        retry_after: seconds announced in ``Retry-After`` (and the fail-fast
            window) after the endpoint failed.
        max_concurrent: introspection calls in flight at once in this process.
        max_rate: introspection calls a second: per process, and across the
            fleet when ``store`` is given (a counter in the store).
        transport: an ``httpx.AsyncBaseTransport`` for ``verify`` and/or an
            ``httpx.BaseTransport`` for ``verify_sync`` (tests, proxies;
            ``httpx.MockTransport`` is both).
        events: metric hooks (see :mod:`okta_bearer.metrics`): answers found
            in the in-process cache and the shared store, introspection and
            discovery requests.  ``None`` (the default) calls nothing.
        clock: seconds since the epoch; injectable for tests.

    Raises:
        ConfigurationError: at construction, naming the offending option; a
            ``transport`` or ``store`` that cannot serve the side first used,
            at that first use.
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
        transport: httpx.AsyncBaseTransport | httpx.BaseTransport | None = None,
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
        self._transport = check_transport("transport", transport)
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
        self._slots = Slots(check_int("max_concurrent", max_concurrent, 1, 10_000))
        self._discovery_slot = Slots(1)  # one discovery at a time per side
        self._bucket = TokenBucket(check_number("max_rate", max_rate, 1, 1_000_000), clock())
        self._backoff = Backoff()
        self._budget_logged_at = -math.inf
        self._refused = 0
        check_int("local_cache_size", local_cache_size, 0, 10_000_000)
        # The default store runs on the verifier's clock, so a test clock expires it too.
        self._store: Store = store if store is not None else MemoryStore(clock=clock)
        self._sync_store: SyncStore | None = None  # the store's blocking face, on first use
        self._owns_store = store is None
        self._shares_budget = store is not None
        self._events = check_events(events)
        self._clock = clock
        # Made on the first use of each side, so a transport of one kind serves its side.
        self._client: httpx.AsyncClient | None = None
        self._sync_client: httpx.Client | None = None
        # Guards the in-memory state both sides share (caches, budget, backoff,
        # the sync side's in-flight lookups); never held during I/O.
        self._lock = threading.Lock()
        # Namespace of this verifier's answers in a shared store: another issuer
        # or client asking about the same token must not read our answers.
        ident = f"{self.issuer}\n{client_id}".encode()
        self._namespace = "introspection:" + hashlib.sha256(ident).hexdigest()[:16]
        # Claims (or None for inactive) by token, with their deadline: one
        # cache per side, the event loop's lock-free, the threads' under the lock.
        self._local: LRUCache[str, tuple[Claims | None, float]] | None = (
            LRUCache(maxsize=local_cache_size) if local_cache_size else None
        )
        self._local_sync: LRUCache[str, tuple[Claims | None, float]] | None = (
            LRUCache(maxsize=local_cache_size) if local_cache_size else None
        )
        self._inflight: dict[str, asyncio.Task[Entry]] = {}
        self._sync_inflight: dict[str, _Pending] = {}
        #: HTTP requests made, by kind ("discovery", "introspection"); for tests and metrics.
        self.fetch_counts: dict[str, int] = {"discovery": 0, "introspection": 0}
        _LIVE.add(self)

    @property
    def introspection_endpoint(self) -> str | None:
        """The endpoint, configured or discovered (``None`` until discovered)."""
        return self._endpoint

    # -- the two sides ---------------------------------------------------------

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
        local = self._local
        if local is not None:
            # The event loop's own cache: one thread, no lock on the hot path.
            try:
                hit = local.get(token)
            except TypeError:  # an unhashable "token" from a direct caller: malformed
                hit = None
            if hit is not None and self._clock() < hit[1]:
                if self._events is not None:
                    self._events.cache("introspection", True)
                claims = hit[0]
                if claims is not None and not required_scopes and not self.required_scopes:
                    return claims  # the hot path, without a call
                return self._granted(claims, required_scopes)
        digest = self._digest(token)
        claims, deadline = self._judged(token, await self._answer(digest, token))
        if local is not None and self._clock() < deadline:
            local[token] = (claims, deadline)
        return self._granted(claims, required_scopes)

    def verify_sync(self, token: str, required_scopes: Iterable[str] = ()) -> Claims:
        """:meth:`verify`, blocking the calling thread (Flask, Django); thread-safe.

        The same checks, caches and budget.  Threads presenting one new token
        share one introspection; each waits at most ``timeout`` in all.

        Raises:
            InvalidToken, InsufficientScope, IntrospectionUnavailable: as :meth:`verify`.
            ConfigurationError: on first use, when ``transport`` is not an
                ``httpx.BaseTransport`` or ``store`` has no blocking face.
        """
        local = self._local_sync
        if local is not None and type(token) is str:
            # The threads' cache, behind the lock (an LRU hit reorders it).
            with self._lock:
                hit = local.get(token)
            if hit is not None and self._clock() < hit[1]:
                if self._events is not None:
                    self._events.cache("introspection", True)
                return self._granted(hit[0], required_scopes)
        digest = self._digest(token)
        claims, deadline = self._judged(token, self._answer_sync(digest, token))
        if local is not None and self._clock() < deadline:
            with self._lock:
                local[token] = (claims, deadline)
        return self._granted(claims, required_scopes)

    # -- what both sides share (no I/O) ----------------------------------------

    def _digest(self, token: object) -> str:
        """The SHA-256 of a token to look up (a miss in the side's own cache)."""
        if not isinstance(token, str) or not token or not token.isascii():
            raise InvalidToken("malformed", "Token is malformed")
        if len(token) > self._max_size:
            raise InvalidToken("too_large", "Token is too large")
        if self._events is not None:
            self._events.cache("introspection", False)
        return hashlib.sha256(token.encode("ascii")).hexdigest()

    def _judged(self, token: str, entry: Entry) -> tuple[Claims | None, float]:
        # The claims of an answer (None: inactive) and how long they may be kept.
        now = self._clock()
        return self._judge(token, entry.answer, now), self._cache.deadline(entry, now)

    def _granted(self, claims: Claims | None, required_scopes: Iterable[str]) -> Claims:
        if claims is None:
            raise InvalidToken("inactive", "Token is not active")
        if required_scopes or self.required_scopes:
            check_scopes(claims, (*self.required_scopes, *required_scopes))
        return claims

    def _judge(self, token: str, answer: dict[str, Any], now: float) -> Claims | None:
        claims: Claims | None = None
        if answer["active"] is True:
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
        return claims

    def _out_of_time(self) -> IntrospectionUnavailable:
        logger.warning(
            "okta_bearer: no introspection answer within the %s s budget",
            self._timeout,
            extra={"reason": "introspection_unavailable", "issuer": self.issuer},
        )
        return IntrospectionUnavailable(self._retry_after)

    def _counted(self, kind: str) -> None:
        with self._lock:
            self.fetch_counts[kind] += 1

    # -- the async driver --------------------------------------------------------

    def _async_client(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(
                transport=async_transport("transport", self._transport),
                timeout=self._timeout,
                follow_redirects=False,
            )
        return self._client

    async def _run(self, flow: Flow[Any]) -> Any:
        try:
            return await run(flow, self._async_client(), self._store, budget=self._timeout)
        except TimeoutError:
            raise self._out_of_time() from None

    async def _answer(self, digest: str, token: str) -> Entry:
        task = self._inflight.get(digest)
        if task is None:
            lookup = self._run(self._lookup(digest, token))
            task = asyncio.get_running_loop().create_task(lookup)
            self._inflight[digest] = task
            task.add_done_callback(lambda _: self._inflight.pop(digest, None))
        # shield: a cancelled request must not cancel the lookup others wait for.
        result: Entry = await asyncio.shield(task)
        return result

    # -- the sync driver ---------------------------------------------------------

    def _sync_side(self) -> tuple[httpx.Client, SyncStore]:
        with self._lock:
            if self._sync_client is None:
                transport = sync_transport("transport", self._transport)
                self._sync_store = sync_face(self._store, "store")
                self._sync_client = httpx.Client(
                    transport=transport, timeout=self._timeout, follow_redirects=False
                )
            assert self._sync_store is not None  # set with the client
            return self._sync_client, self._sync_store

    def _run_sync(self, flow: Flow[Any]) -> Any:
        client, store = self._sync_side()
        try:
            return run_sync(flow, client, store, budget=self._timeout)
        except TimeoutError:
            raise self._out_of_time() from None

    def _answer_sync(self, digest: str, token: str) -> Entry:
        self._sync_side()  # configuration errors before any waiting
        with self._lock:
            pending = self._sync_inflight.get(digest)
            leads = pending is None
            if pending is None:
                pending = self._sync_inflight[digest] = _Pending()
        if not leads:
            # Another thread asks the issuer: wait for its answer, within our own budget.
            if not pending.done.wait(self._timeout):
                raise self._out_of_time()
            if pending.error is not None:
                raise pending.error
            assert pending.entry is not None  # set before done, with no error
            return pending.entry
        try:
            pending.entry = self._run_sync(self._lookup(digest, token))
            return pending.entry
        except BaseException as exc:
            pending.error = exc
            raise
        finally:
            with self._lock:
                self._sync_inflight.pop(digest, None)
            pending.done.set()

    # -- the flows (run by both drivers) ----------------------------------------

    def _usable(self, document: bytes) -> bool:
        entry = Entry.decode(document)
        now = self._clock()
        return entry is not None and now < self._cache.deadline(entry, now)

    def _lookup(self, digest: str, token: str) -> Flow[Entry]:
        """The answer for ``token``: from the shared store, or asked under its lease."""
        key = f"{self._namespace}:{digest}"
        deadline = time.monotonic() + self._timeout
        ours: list[Entry] = []

        def fetch() -> Flow[Fetched]:
            entry = Entry((yield from self._introspect(token, deadline)), self._clock())
            ours.append(entry)
            return entry.encode(), self._cache.deadline(entry, entry.fetched_at) - entry.fetched_at

        # The one budget (the driver's timeout): a slot, another worker, and our call.
        document, fetched = yield from shared_fetch(
            key, fetch, lease_ttl=self._timeout, usable=self._usable
        )
        if not fetched and self._events is not None:
            self._events.cache("introspection_shared", True)
        entry = ours[0] if ours else Entry.decode(document)
        if entry is None:  # cannot happen: usable() decoded it; never a 500 if it does
            raise IntrospectionUnavailable(self._retry_after)
        return entry

    def _spend(self, now: float) -> Flow[None]:
        """Take one call from the budget or raise 503: backoff, rate per process, then fleet."""
        with self._lock:
            retry = self._backoff.remaining(now)
            taken = retry is None and self._bucket.take(now)
        if retry is not None:
            raise IntrospectionUnavailable(retry)
        if not taken:
            raise self._over_budget("this process")
        if self._shares_budget:
            try:
                count = yield StoreCall("increment", (window_key(self._namespace, now), 2.0))
            except StoreUnavailable:
                return  # the per-process budget still holds
            if count > self._bucket.rate:
                raise self._over_budget("the fleet")

    def _over_budget(self, whose: str) -> IntrospectionUnavailable:
        # Logged at most once per _BUDGET_LOG_EVERY seconds: a flood must not become a log flood.
        now = self._clock()
        with self._lock:
            self._refused += 1
            due = now >= self._budget_logged_at + _BUDGET_LOG_EVERY or now < self._budget_logged_at
            refused = self._refused
            if due:
                self._budget_logged_at, self._refused = now, 0
        if due:
            logger.warning(
                "okta_bearer: introspection budget (%s calls a second) spent in %s; "
                "%s new tokens got 503 without a call since the last report",
                self._bucket.rate,
                whose,
                refused,
                extra={"reason": "introspection_budget", "issuer": self.issuer},
            )
        return IntrospectionUnavailable(1)

    def _introspect(self, token: str, deadline: float) -> Flow[dict[str, Any]]:
        yield from self._spend(self._clock())
        endpoint = yield from self._discovered(deadline)
        release = yield Acquire(self._slots)  # max_concurrent, within the budget
        try:
            started = time.monotonic()
            start = time.perf_counter()
            self._counted("introspection")
            try:
                answer = yield from self._post(endpoint, token)
            except (asyncio.CancelledError, TimeoutError):
                # The budget ran out during our own call, which had at least half
                # of it: the endpoint is too slow (not merely late after a wait).
                # (A TimeoutError is an OSError: this clause comes first.)
                if time.monotonic() >= deadline and deadline - started >= self._timeout / 2:
                    with self._lock:
                        self._backoff.failed(self._clock(), self._retry_after)
                raise
            except (_EndpointFailed, _BadAnswer, httpx.HTTPError, OSError) as exc:
                if self._events is not None:
                    elapsed = time.perf_counter() - start
                    self._events.fetch("introspection", self.issuer, False, elapsed)
                backoff = None if isinstance(exc, _BadAnswer) else self._retry_after
                if isinstance(exc, _EndpointFailed) and exc.backoff is not None:
                    backoff = exc.backoff
                raise self._failed(f"introspection at {endpoint} failed", exc, backoff) from exc
        finally:
            release()
        if self._events is not None:
            self._events.fetch("introspection", self.issuer, True, time.perf_counter() - start)
        return answer

    def _failed(
        self, what: str, exc: BaseException, backoff: int | None
    ) -> IntrospectionUnavailable:
        now = self._clock()
        with self._lock:
            if backoff is not None:
                self._backoff.failed(now, backoff)
            retry = self._backoff.remaining(now) or self._retry_after
        logger.warning(
            "okta_bearer: %s (%s)",
            what,
            str(exc) or type(exc).__name__,
            extra={"reason": "introspection_unavailable", "issuer": self.issuer},
        )
        return IntrospectionUnavailable(retry)

    def _fetch(self, method: str, url: str, **options: Any) -> Flow[HttpResponse]:
        try:
            response: HttpResponse = yield HttpRequest(method, url, max_body=_MAX_BODY, **options)
        except BodyTooLarge as exc:
            raise _BadAnswer(f"body larger than {_MAX_BODY} bytes") from exc
        return response

    def _post(self, endpoint: str, token: str) -> Flow[dict[str, Any]]:
        form = {"token": token, "token_type_hint": "access_token"}
        headers = self._auth.apply(endpoint, form)
        headers.update({"Accept": "application/json", "Content-Type": _FORM})
        response = yield from self._fetch("POST", endpoint, headers=headers, data=form)
        status = response.status
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
            wait = retry_after_seconds(response.headers.get("retry-after"), self._clock())
            raise _EndpointFailed(f"HTTP {status}", wait)
        answer = parse_answer(response.body)
        if answer is None:
            raise _BadAnswer("the answer is not a JSON object with a boolean 'active'")
        return answer

    def _discovered(self, deadline: float) -> Flow[str]:
        """The endpoint: configured, known, or discovered now (one discovery at a time)."""
        if self._endpoint is not None:
            return self._endpoint
        release = yield Acquire(self._discovery_slot)
        try:
            if self._endpoint is not None:  # found while we waited
                return self._endpoint
            with self._lock:
                retry = self._backoff.remaining(self._clock())
            if retry is not None:  # the discovery we waited for failed: fail fast too
                raise IntrospectionUnavailable(retry)
            return (yield from self._discover(deadline))
        finally:
            release()

    def _discover(self, deadline: float) -> Flow[str]:
        start = time.perf_counter()
        try:
            endpoint = yield from self._find_endpoint()
        except (asyncio.CancelledError, TimeoutError) as exc:
            if time.monotonic() >= deadline:  # too slow, not a caller gone (aclose)
                self._discovery_failed(start, exc)
            raise
        except (_BadAnswer, httpx.HTTPError, OSError) as exc:
            raise self._discovery_failed(start, exc) from exc
        if self._events is not None:
            self._events.fetch("discovery", self.issuer, True, time.perf_counter() - start)
        self._endpoint = endpoint
        return endpoint

    def _discovery_failed(self, start: float, exc: BaseException) -> IntrospectionUnavailable:
        if self._events is not None:
            self._events.fetch("discovery", self.issuer, False, time.perf_counter() - start)
        return self._failed(f"discovery for {self.issuer} failed", exc, self._retry_after)

    def _find_endpoint(self) -> Flow[str]:
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
            self._counted("discovery")
            response = yield from self._fetch("GET", url, headers={"Accept": "application/json"})
            status = response.status
            if 400 <= status < 500:
                last = f"{url} answered HTTP {status}"
                continue
            if status != 200:
                raise _BadAnswer(f"{url} answered HTTP {status}")
            try:
                meta = parse_json(response.body)
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

    # -- start-up and shutdown -------------------------------------------------------

    def _warm_up_problems(self, error: IntrospectionUnavailable) -> list[str]:
        cause = error.__cause__
        why = (str(cause) or type(cause).__name__) if cause is not None else "unavailable"
        return [f"issuer {self.issuer}: introspection endpoint discovery failed ({why})"]

    def _warm_up_flow(self) -> Flow[str]:
        return self._discovered(time.monotonic() + self._timeout)

    async def warm_up(self) -> list[str]:
        """Discover the introspection endpoint now (at start-up), when it is not configured.

        Bounded by ``timeout``; never raises for an issuer problem.

        Returns:
            The problems found (empty when the endpoint is known).
        """
        try:
            await self._run(self._warm_up_flow())
        except IntrospectionUnavailable as exc:
            return self._warm_up_problems(exc)
        return []

    def warm_up_sync(self) -> list[str]:
        """:meth:`warm_up`, blocking the calling thread (a WSGI app's start-up)."""
        try:
            self._run_sync(self._warm_up_flow())
        except IntrospectionUnavailable as exc:
            return self._warm_up_problems(exc)
        return []

    async def aclose(self) -> None:
        """Cancel lookups in flight and close both HTTP clients (and the default store)."""
        for task in list(self._inflight.values()):
            task.cancel()
        if self._client is not None:
            await self._client.aclose()
        self._close_sync_client()
        if self._owns_store:
            await self._store.aclose()

    def close(self) -> None:
        """Close the sync side's HTTP client (and the default store)."""
        self._close_sync_client()
        if self._owns_store:
            sync_face(self._store).close()

    def _forked(self) -> None:
        # In a forked child (gunicorn --preload after a start-up check): the
        # parent's pooled connections are not ours to use (each worker would
        # share one socket), a lock held by another thread is never released,
        # and lookups in flight never end here.  Caches and the endpoint stay.
        self._lock = threading.Lock()
        self._sync_client = None
        self._sync_inflight = {}

    def _close_sync_client(self) -> None:
        with self._lock:
            client, self._sync_client = self._sync_client, None
        if client is not None:
            client.close()

    async def __aenter__(self) -> IntrospectionVerifier:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def __enter__(self) -> IntrospectionVerifier:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
