"""Signing keys: the cache policy, as pure decisions (no I/O, no clock, no threads).

Policy, in one place (the numbers live in :class:`~okta_bearer.KeyPolicy`):

* Keys are fetched with a total time budget (``KeyPolicy.timeout``), no
  redirects, a body size cap and ``Accept: application/json,
  application/jwk-set+json`` (the requests are flows in
  :mod:`okta_bearer._keys.fetch`).
* One fetch at a time (single-flight): concurrent callers on a cold cache all
  wait for the same refresh, so N requests cause one discovery and one JWKS
  fetch.
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
* A key that a refresh no longer lists is withdrawn: the driver tells its
  listener (the verifier drops cached tokens signed by it).
* Any failure while fetching or parsing discovery or the JWKS (HTTP error,
  timeout, bad JSON, a member of the wrong type, cancellation) keeps the last
  good keys and logs a warning; they keep serving for ``max_stale`` seconds
  past their expiry.  A cold start, a stale set past that, or an unknown
  ``kid`` while the issuer is failing is :class:`KeysUnavailable` (503, with
  a ``Retry-After`` of what is left of the backoff), never blamed on the
  token.  After a failure no fetch starts for ``KeyPolicy.retry_backoff``
  seconds.
* Keys become bound signature checks once per fetch (:mod:`okta_bearer._jwt.jwk`);
  weak, private, symmetric and encryption keys are never used.

:class:`KeySetPolicy` holds the state these rules need and decides; it does
no I/O.  A lookup is a generator that yields a :class:`Refresh` when it needs
a refresh started or waited for, and is sent the time once that is done.  Two
drivers run it: :class:`~okta_bearer._keys.keystore.KeyStore` (asyncio: a
refresh is a task, waiting is awaiting it) and
:class:`~okta_bearer._keys.sync_keystore.SyncKeyStore` (threads: the first
thread that needs a refresh does it, the others wait on an event).  The
driver reports the outcome with :meth:`KeySetPolicy.installed` or
:meth:`KeySetPolicy.failed`; a threaded driver calls every method under
one lock, which is never held while waiting.
"""

from __future__ import annotations

import math
from collections.abc import Generator, Mapping
from dataclasses import dataclass
from typing import TypeVar

from .._config import KeyPolicy
from .._errors import InvalidToken, KeysUnavailable
from .._jwt.jwk import SignatureCheck

__all__ = ["REFRESH_AHEAD", "KeySet", "KeySetPolicy", "Lookup", "Refresh"]

#: Seconds before expiry from which a refresh runs in the background.
REFRESH_AHEAD = 30.0

_T = TypeVar("_T")

#: Prepared keys: kid -> algorithm -> signature check.
Checks = Mapping[str, Mapping[str, SignatureCheck]]


@dataclass(frozen=True, slots=True)
class KeySet:
    """The keys of one fetch, with when they were fetched, expire and stop serving."""

    checks: Checks
    fetched_at: float
    expires_at: float
    stale_until: float


@dataclass(frozen=True, slots=True)
class Refresh:
    """What a lookup needs from its driver before it can go on.

    ``start``: begin a refresh now (the policy has counted it as in flight);
    ``kid`` is the unknown kid that caused it (``None``: cold or scheduled)
    and ``ours_fetched_at`` when the keys it would replace were fetched.
    ``wait``: wait for the refresh in flight (this one, or the one already
    running) to end.  Either way the driver then sends the time.
    """

    kid: str | None
    start: bool
    wait: bool
    ours_fetched_at: float = -math.inf


#: A decision in progress: yields :class:`Refresh`, is sent the time, returns ``T``.
Lookup = Generator[Refresh, float, _T]


def _unknown_kid() -> InvalidToken:
    return InvalidToken("unknown_kid", "Token signing key is not known")


class KeySetPolicy:
    """The key cache of one issuer, as state and decisions (see the module docstring).

    Args:
        settings: the numbers (TTLs, backoff, stale tolerance, kid interval).
    """

    def __init__(self, settings: KeyPolicy) -> None:
        self.settings = settings
        #: The current keys (``None`` before the first successful refresh).
        self.keyset: KeySet | None = None
        #: Whether a refresh is in flight (set by a ``start``, cleared by its outcome).
        self.refreshing = False
        #: When the last refresh failed; ``-inf`` once one succeeds.
        self.failed_at = -math.inf
        #: Why the last refresh failed, with a hint (for ``warm_up``).
        self.failure = ""
        self._last_kid_refetch = -math.inf

    @property
    def kids(self) -> frozenset[str]:
        """The kids of the current key set (empty before the first fetch)."""
        return frozenset(self.keyset.checks) if self.keyset else frozenset()

    @property
    def failing(self) -> bool:
        """Whether the last refresh failed."""
        return self.failed_at != -math.inf

    def is_hit(self, kid: str, now: float) -> bool:
        """Whether ``kid`` is served from the cache with no fetch needed (for metrics)."""
        keyset = self.keyset
        return keyset is not None and now < keyset.stale_until and kid in keyset.checks

    def begin(self, kid: str | None = None, *, wait: bool = True) -> Refresh:
        """Count a refresh as in flight and tell the driver to start it."""
        self.refreshing = True
        ours = self.keyset.fetched_at if self.keyset else -math.inf
        return Refresh(kid, start=True, wait=wait, ours_fetched_at=ours)

    def installed(self, checks: Checks, fetched_at: float, ttl: float) -> frozenset[str]:
        """A refresh succeeded with ``checks``: keep them; the kids it withdrew."""
        previous = self.keyset
        expires_at = fetched_at + ttl
        self.keyset = KeySet(checks, fetched_at, expires_at, expires_at + self.settings.max_stale)
        self.failed_at = -math.inf
        self.refreshing = False
        if previous is None:
            return frozenset()
        return frozenset(previous.checks).difference(checks)

    def failed(self, now: float, why: str | None = None) -> None:
        """A refresh failed (or was cancelled, ``why`` then ``None``) at ``now``: back off."""
        self.failed_at = now
        if why is not None:
            self.failure = why
        self.refreshing = False

    def unavailable(self, now: float) -> KeysUnavailable:
        """The 503 for ``now``: ``Retry-After`` is what is left of the backoff (at least 1 s)."""
        retry = 1
        if self.failing:
            retry = max(1, math.ceil(self.failed_at + self.settings.retry_backoff - now))
        return KeysUnavailable("keys_unavailable", "Signing keys are unavailable", retry)

    # -- decisions (generators: yield Refresh, are sent the time) ---------------

    def lookup(self, kid: str, alg: str, now: float) -> Lookup[SignatureCheck]:
        """The signature check of key ``kid`` for ``alg``.

        Raises:
            InvalidToken: the kid is unknown (after the refetch it may cause)
                or its key does not fit ``alg``.
            KeysUnavailable: no keys can be had, or the issuer is failing and
                the kid may be one we could not load.
        """
        keyset = self.keyset
        if keyset is None:
            keyset, _ = yield from self.refresh_now(now)
        elif now >= keyset.expires_at - REFRESH_AHEAD:
            if now < keyset.stale_until:
                if not self.refreshing and now - self.failed_at >= self.settings.retry_backoff:
                    yield self.begin(wait=False)  # in the background
            else:
                keyset, _ = yield from self.refresh_now(now)
        entry = keyset.checks.get(kid)
        if entry is None and self.refreshing:
            # A refresh is in flight, perhaps the one that publishes this kid.
            keyset, _ = yield from self.refresh_now(now)
            entry = keyset.checks.get(kid)
        if entry is None:
            entry = yield from self._refetch_for_unknown(kid, now)
        check = entry.get(alg)
        if check is None:
            raise InvalidToken("key_mismatch", "Token algorithm does not fit its key")
        return check

    def warm_up(self, now: float) -> Lookup[str | None]:
        """Fetch unless fresh keys are here: ``None`` when ready, else why not."""
        keyset = self.keyset
        if keyset is not None and now < keyset.expires_at:
            return None
        try:
            yield from self.refresh_now(now)
        except KeysUnavailable:
            return self.failure or "signing keys could not be fetched"
        return None

    def refresh_now(self, now: float, kid: str | None = None) -> Lookup[tuple[KeySet, float]]:
        """Usable keys after the refresh in flight, or a new one unless backing off.

        Returns the keys and the time after the wait.  Raises
        :class:`KeysUnavailable` when none are usable.
        """
        if self.refreshing:
            now = yield Refresh(kid, start=False, wait=True)
        elif now - self.failed_at < self.settings.retry_backoff:
            return self._usable_or_raise(now), now
        else:
            now = yield self.begin(kid)
        return self._usable_or_raise(now), now

    def _usable_or_raise(self, now: float) -> KeySet:
        keyset = self.keyset
        if keyset is not None and now < keyset.stale_until:
            return keyset
        raise self.unavailable(now)

    def _refetch_for_unknown(self, kid: str, now: float) -> Lookup[Mapping[str, SignatureCheck]]:
        if self.failing:
            # The issuer is down: the token may be signed by a key we could not
            # load, so this is a server condition, not the token's fault.
            if now - self.failed_at >= self.settings.retry_backoff:
                keyset, _ = yield from self.refresh_now(now, kid)
                entry = keyset.checks.get(kid)
                if entry is not None:
                    return entry
                if not self.failing:
                    raise _unknown_kid()
            raise self.unavailable(now)
        if now - self._last_kid_refetch < self.settings.unknown_kid_interval:
            raise _unknown_kid()
        self._last_kid_refetch = now
        keyset, after = yield from self.refresh_now(now, kid)
        entry = keyset.checks.get(kid)
        if entry is None:
            if self.failing:
                raise self.unavailable(after)
            raise _unknown_kid()
        return entry
