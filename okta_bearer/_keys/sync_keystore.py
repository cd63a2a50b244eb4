"""Signing keys for the sync (WSGI) side: the key policy driven from threads.

:class:`SyncKeyStore` runs the same decisions (:mod:`okta_bearer._keys.policy`)
and the same fetch flows (:mod:`okta_bearer._keys.fetch`) as the async
:class:`~okta_bearer._keys.keystore.KeyStore`, with ``_flow.run_sync`` over an
``httpx.Client`` it owns and a store's blocking face for the fleet.

Threading guarantees (Flask, Django, gunicorn ``gthread`` workers):

* One ``threading.Lock`` guards the policy's state transitions only (a
  lookup's decisions, a refresh's outcome); it is never held during a
  network call, a store call or a wait, so threads verifying with cached
  keys never queue behind a fetch.
* Single-flight: the first thread whose lookup needs a refresh performs it
  in its own thread; every other thread that needs keys meanwhile waits on
  that refresh's ``threading.Event`` (bounded by ``KeyPolicy.timeout`` plus
  one second, after which it answers from what the policy has: stale keys,
  or 503).  So N threads meeting a cold cache cause one discovery and one
  JWKS fetch.
* Refresh-ahead runs in a daemon thread: requests keep using the current
  keys while it fetches (a request never pays for a scheduled refresh), and
  a daemon thread never holds a worker's exit.
* Fork-safe (gunicorn ``preload_app``): in a forked child a store forgets
  its parent's HTTP client (pooled connections are not shareable across
  processes), its lock and any refresh in flight (whose thread did not
  survive the fork), and keeps the keys it had.
"""

from __future__ import annotations

import os
import threading
import weakref
from collections.abc import Callable, Iterable
from typing import TypeVar

import httpx

from .._config import KeyPolicy
from .._events import Events
from .._flow import run_sync
from .._jwt.jwk import SignatureCheck
from .._store.memory import SyncStore
from .fetch import KeySource
from .fleet import Fleet
from .policy import KeySetPolicy, Lookup, Refresh

__all__ = ["SyncKeyStore"]

_T = TypeVar("_T")

#: Every live store, reset in a forked child (see :meth:`SyncKeyStore._forked`).
_LIVE: weakref.WeakSet[SyncKeyStore] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    for store in list(_LIVE):
        store._forked()


if hasattr(os, "register_at_fork"):  # not on Windows
    os.register_at_fork(after_in_child=_after_fork_in_child)


class SyncKeyStore:
    """The signing keys of one issuer, for threads (sync driver; see the module docstring).

    Args:
        issuer: the configured issuer (already validated).
        jwks_uri: the JWKS URI, or ``None`` to discover it.
        algorithms: the algorithms keys are prepared for.
        policy: timeouts, TTLs, outage tolerance and the unknown-kid interval.
        transport: the sync httpx transport to fetch over (the store owns the client).
        clock: seconds since the epoch.
        on_withdrawn: called with the kids a refresh no longer lists (outside the lock).
        store: the blocking face of a store shared by the fleet.
        events: metric hooks for key lookups and fetches (``None``: none).
    """

    def __init__(
        self,
        *,
        issuer: str,
        jwks_uri: str | None,
        algorithms: Iterable[str],
        policy: KeyPolicy,
        transport: httpx.BaseTransport | None,
        clock: Callable[[], float],
        on_withdrawn: Callable[[frozenset[str]], None] | None = None,
        store: SyncStore | None = None,
        events: Events | None = None,
    ) -> None:
        self._settings = policy
        self._transport = transport
        self._client: httpx.Client | None = None
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
        #: Guards ``_state``, ``_done`` and ``_client``; never held while waiting.
        self._lock = threading.Lock()
        #: Set when the refresh in flight ends (``None``: none in flight).
        self._done: threading.Event | None = None
        #: HTTP requests made, by kind ("discovery", "jwks"); for tests and metrics.
        self.fetch_counts: dict[str, int] = self._source.fetch_counts
        _LIVE.add(self)

    @property
    def jwks_uri(self) -> str | None:
        """The JWKS URI, configured or discovered (``None`` until discovered)."""
        return self._source.jwks_uri

    @property
    def kids(self) -> frozenset[str]:
        """The kids of the current key set (empty before the first fetch)."""
        with self._lock:
            return self._state.kids

    @property
    def _fleet(self) -> Fleet | None:
        return self._source.fleet

    def get(self, kid: str, alg: str) -> SignatureCheck:
        """Return the signature check of key ``kid`` for algorithm ``alg`` (blocking).

        Raises:
            InvalidToken: the kid is unknown (after the refetch it may cause)
                or its key does not fit ``alg``.
            KeysUnavailable: no keys can be had, or the issuer is failing and
                the kid may be one we could not load.
        """
        now = self._clock()
        check = self._state.ready(kid, alg, now)  # a snapshot read: no lock needed
        if check is not None:
            if self._events is not None:
                self._events.cache("keys", True)
            return check
        with self._lock:
            hit = self._state.is_hit(kid, now)
            lookup = self._state.lookup(kid, alg, now)
        if self._events is not None:
            self._events.cache("keys", hit)
        return self._decide(lookup)

    def warm_up(self) -> str | None:
        """Fetch discovery and keys now, so the first request finds them (blocking).

        Bounded by ``KeyPolicy.timeout``.  Returns ``None`` when keys are
        ready, else why they are not (safe to log, with what to check).
        """
        with self._lock:
            lookup = self._state.warm_up(self._clock())
        return self._decide(lookup)

    def _decide(self, lookup: Lookup[_T]) -> _T:
        # Each step of the decision runs under the lock; refreshes and waits do not.
        now: float | None = None
        while True:
            with self._lock:
                try:
                    request = next(lookup) if now is None else lookup.send(now)
                except StopIteration as stop:
                    return stop.value  # type: ignore[no-any-return]
                done = self._begun() if request.start else self._done
            if request.start:
                if request.wait:
                    self._refresh(request, done)  # this thread fetches; the others wait
                else:
                    threading.Thread(
                        target=self._refresh,
                        args=(request, done),
                        name="okta_bearer-keys-refresh",
                        daemon=True,
                    ).start()
            elif request.wait and done is not None:
                done.wait(self._settings.timeout + 1.0)
            now = self._clock()

    def _begun(self) -> threading.Event:
        # Under the lock: the policy has counted this refresh as in flight.
        done = self._done = threading.Event()
        return done

    def _refresh(self, request: Refresh, done: threading.Event | None) -> None:
        state = self._state
        try:
            fetched = run_sync(
                self._source.refresh(request.kid, request.ours_fetched_at),
                self._http(),
                self._store,
                budget=self._settings.timeout,
            )
        except Exception as exc:  # any failure is a refresh failure
            with self._lock:
                had_keys = state.keyset is not None
            why = self._source.failed(exc, had_keys=had_keys)
            with self._lock:
                state.failed(self._clock(), why)
                self._done = None
        except BaseException:  # KeyboardInterrupt, SystemExit: give up this refresh
            with self._lock:
                state.failed(self._clock())
                self._done = None
            self._source.cancelled()
            raise
        else:
            with self._lock:
                withdrawn = state.installed(*fetched)
                self._done = None
            self._source.withdrawn(withdrawn, self._on_withdrawn)
        finally:
            if done is not None:
                done.set()

    def _forked(self) -> None:
        # In a forked child: only the forking thread survived, so a refresh in
        # flight never ends here, and a lock taken by another thread is never
        # released; the parent's pooled connections are not ours to use.
        self._lock = threading.Lock()
        self._done = None
        self._client = None
        self._state.abandoned()

    def _http(self) -> httpx.Client:
        with self._lock:
            client = self._client
            if client is None:
                client = self._client = httpx.Client(
                    transport=self._transport,
                    timeout=self._settings.timeout,
                    follow_redirects=False,
                )
            return client

    def close(self) -> None:
        """Wait (bounded) for a refresh in flight, then close the HTTP client."""
        with self._lock:
            done = self._done
        if done is not None:
            done.wait(self._settings.timeout + 1.0)
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()
