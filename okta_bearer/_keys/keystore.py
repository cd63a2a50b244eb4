"""Signing keys for the ASGI side: the key policy driven in an event loop.

:class:`KeyStore` runs the decisions of :mod:`okta_bearer._keys.policy`
(when to fetch, refresh ahead, unknown-kid refetches, backoff, stale-on-error,
withdrawal) with the fetch flows of :mod:`okta_bearer._keys.fetch`, over an
``httpx.AsyncClient`` it owns (built on an optional injected transport):

* a refresh is one ``asyncio`` task, bounded by ``KeyPolicy.timeout``;
  every request that needs it awaits that task (single-flight), shielded so
  a cancelled request never cancels the fetch others wait for;
* a refresh-ahead is the same task that nobody awaits: requests keep using
  the current keys meanwhile;
* with a shared store, the fleet steps run against the async store.

The sync (WSGI) driver is :class:`~okta_bearer._keys.sync_keystore.SyncKeyStore`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from typing import TypeVar

import httpx

from .._config import KeyPolicy
from .._events import Events
from .._flow import run
from .._jwt.jwk import SignatureCheck
from .._store.memory import Store
from .fetch import FetchError, KeySource, failure_hint, issuer_mismatch_hint
from .fleet import Fleet
from .policy import REFRESH_AHEAD, KeySetPolicy, Lookup, Refresh

__all__ = [
    "REFRESH_AHEAD",
    "FetchError",
    "KeyStore",
    "failure_hint",
    "issuer_mismatch_hint",
]

_T = TypeVar("_T")


class KeyStore:
    """The signing keys of one issuer, discovered, fetched and cached (async driver).

    Use :meth:`get`; the policy is :mod:`okta_bearer._keys.policy`.

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
        self._settings = policy
        self._transport = transport
        self._client: httpx.AsyncClient | None = None
        self._clock = clock
        self._on_withdrawn = on_withdrawn
        self._events = events
        self._store = store
        self._state = KeySetPolicy(policy)
        self._source = KeySource(
            issuer=issuer,
            jwks_uri=jwks_uri,
            algorithms=algorithms,
            policy=policy,
            clock=clock,
            shared=store is not None,
            events=events,
        )
        self._task: asyncio.Task[None] | None = None
        #: HTTP requests made, by kind ("discovery", "jwks"); for tests and metrics.
        self.fetch_counts: dict[str, int] = self._source.fetch_counts

    @property
    def jwks_uri(self) -> str | None:
        """The JWKS URI, configured or discovered (``None`` until discovered)."""
        return self._source.jwks_uri

    @property
    def kids(self) -> frozenset[str]:
        """The kids of the current key set (empty before the first fetch)."""
        return self._state.kids

    @property
    def _fleet(self) -> Fleet | None:
        return self._source.fleet

    async def get(self, kid: str, alg: str) -> SignatureCheck:
        """Return the signature check of key ``kid`` for algorithm ``alg``.

        Raises:
            InvalidToken: the kid is unknown (after the refetch it may cause)
                or its key does not fit ``alg``.
            KeysUnavailable: no keys can be had, or the issuer is failing and
                the kid may be one we could not load.
        """
        now = self._clock()
        state = self._state
        check = state.ready(kid, alg, now)
        if self._events is not None:
            self._events.cache("keys", check is not None or state.is_hit(kid, now))
        if check is not None:
            return check
        return await self._decide(state.lookup(kid, alg, now))

    async def warm_up(self) -> str | None:
        """Fetch discovery and keys now (at start-up), so the first request finds them.

        Bounded by ``KeyPolicy.timeout``.  Returns ``None`` when keys are
        ready, else why they are not (safe to log, with what to check).
        """
        return await self._decide(self._state.warm_up(self._clock()))

    async def _decide(self, lookup: Lookup[_T]) -> _T:
        # Run a policy decision: start the refreshes it asks for, await them.
        try:
            request = next(lookup)
            while True:
                if request.start:
                    self._spawn(request)
                task = self._task
                if request.wait and task is not None:
                    # shield: a cancelled request must not cancel the fetch others wait for.
                    await asyncio.wait([asyncio.shield(task)])
                request = lookup.send(self._clock())
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]

    def _start(self, kid: str | None = None) -> asyncio.Task[None]:
        # Start a refresh now, whatever the policy would say (tests).
        return self._spawn(self._state.begin(kid, wait=False))

    def _spawn(self, request: Refresh) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(self._refresh(request))
        self._task = task
        return task

    async def _refresh(self, request: Refresh) -> None:
        state = self._state
        try:
            fetched = await run(
                self._source.refresh(request.kid, request.ours_fetched_at),
                self._http(),
                self._store,
                budget=self._settings.timeout,
            )
        except asyncio.CancelledError:
            state.failed(self._clock())
            self._source.cancelled()
            raise
        except Exception as exc:  # any failure is a refresh failure
            had_keys = state.keyset is not None
            state.failed(self._clock(), self._source.failed(exc, had_keys=had_keys))
        else:
            self._source.withdrawn(state.installed(*fetched), self._on_withdrawn)
        finally:
            self._task = None

    def _http(self) -> httpx.AsyncClient:
        client = self._client
        if client is None:
            client = self._client = httpx.AsyncClient(
                transport=self._transport, timeout=self._settings.timeout, follow_redirects=False
            )
        return client

    async def aclose(self) -> None:
        """Cancel a refresh in flight and close the HTTP client."""
        task = self._task
        if task is not None:
            task.cancel()
            await asyncio.wait([task])
        if self._client is not None:
            await self._client.aclose()
            self._client = None
