"""TokenVerifier: the one place where a JWT access token is judged.

``verify()`` reads top to bottom: cache, parse, key, check, decode, validate.
``verify_sync()`` is the same sequence for threads (Flask, Django): the same
cache, parsing, checks and validation, only the key lookup is blocking.
Configuration is checked by :mod:`okta_bearer._config`; keys and signature
checks come from :mod:`okta_bearer._keys` (the policy in ``policy.py``,
driven by ``keystore.py`` in an event loop and by ``sync_keystore.py`` from
threads); claims rules from :mod:`okta_bearer._jwt.validation`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from types import TracebackType
from typing import Literal

import httpx
from cachetools import LRUCache

from .._config import (
    KeyPolicy,
    async_transport,
    check_bool,
    check_int,
    check_number,
    check_strings,
    check_url,
    sync_transport,
)
from .._errors import ConfigurationError, InvalidToken
from .._events import Events, check_events
from .._http.rfc6750 import is_scope_token
from .._keys.keystore import KeyStore
from .._keys.sync_keystore import SyncKeyStore
from .._options import checked_options
from .._store.memory import Store, SyncStore, sync_face
from .claims import Claims
from .jwk import SUPPORTED_ALGORITHMS, SignatureCheck
from .jws import HeaderMemo, ParsedToken, decode_payload, parse_token
from .validation import TENANT_PLACEHOLDER, Policy, check_scopes, is_tenant_id, validate_claims

__all__ = ["TokenVerifier"]


def _check_tenants(
    issuer: object, tenants: object, jwks_uri: object
) -> tuple[frozenset[str] | None, bool]:
    """The accepted tenant ids (``None``: a plain issuer) and whether any tenant is.

    Raises:
        ConfigurationError: a template without ``tenants`` or ``jwks_uri``,
            ``tenants`` without a template, or a tenant id that is not a GUID.
    """
    templated = isinstance(issuer, str) and TENANT_PLACEHOLDER in issuer
    if tenants is None:
        if templated:
            raise ConfigurationError(
                "issuer holds {tenantid}: give tenants=[...] (the tenant ids you accept) "
                "or tenants='any'"
            )
        return None, False
    if not templated:
        raise ConfigurationError("tenants needs an issuer template holding {tenantid}")
    assert isinstance(issuer, str)
    # The template must be a valid issuer once a tenant id is in it.
    check_url("issuer", issuer.replace(TENANT_PLACEHOLDER, "00000000-0000-0000-0000-000000000000"))
    if jwks_uri is None:
        raise ConfigurationError("tenants needs jwks_uri: an issuer template cannot be discovered")
    if tenants == "any":
        return frozenset(), True
    ids = check_strings("tenants", tenants, allow_empty=False)
    for tid in ids:
        if not is_tenant_id(tid):
            raise ConfigurationError(f"tenants: {tid!r} is not a lower-case tenant GUID")
    return frozenset(ids), False


@checked_options
class TokenVerifier:
    """Verify OAuth 2.0 JWT access tokens from one Okta (or OpenID Connect) issuer.

    Checks, in order: size, compact JWS form, header (``alg`` allow-list,
    ``crit``, ``typ``, ``kid``), the signature with the issuer's published key,
    then ``iss``, ``aud``, ``exp``, ``nbf``, ``iat``, optional maximum age,
    optional ``cid`` allow-list, the scope claims' shape, and finally scopes.

    Args:
        issuer: the authorization server's issuer, e.g.
            ``https://example.okta.com/oauth2/default``; compared exactly.
            With ``tenants``, a template holding ``{tenantid}``, e.g.
            ``https://login.microsoftonline.com/{tenantid}/v2.0``.
        audience: accepted ``aud`` value, or several (a token needs one of
            them).  ``None`` only for issuers whose access tokens carry no
            ``aud`` (Amazon Cognito), and only with ``client_ids``, which then
            bind the token to your app clients instead.
        jwks_uri: where the keys are; discovered from the issuer's metadata when
            not given (``/.well-known/oauth-authorization-server``, then
            ``/.well-known/openid-configuration``).
        algorithms: accepted signature algorithms; Okta signs with RS256 only.
            ``none`` and HMAC (``HS*``) are refused.
        leeway: clock skew tolerated on ``exp``, ``nbf`` and ``iat``, seconds
            (default 30, at most 300).
        max_token_age: reject tokens whose ``iat`` is older than this (seconds).
        client_ids: accept only tokens whose ``cid`` (or ``client_id``) is listed.
        tenants: for a multi-tenant issuer template (Microsoft Entra ID): the
            tenant ids (``tid``) accepted, or ``"any"`` for every tenant.  A
            token's ``iss`` must then equal the template with its own ``tid``
            in place of ``{tenantid}``.  Needs ``jwks_uri`` (a template cannot
            be discovered).
        required_scopes: scopes every token must hold (routes can add more).
        require_at_jwt: require ``typ: at+jwt`` (RFC 9068); off by default since
            Okta access tokens carry no ``typ``.
        max_token_size: tokens longer than this many characters are refused
            before parsing (default 16 KiB).
        keys: how keys are fetched and cached (:class:`KeyPolicy`).
        transport: an httpx transport for discovery and keys (tests pass
            ``LocalIssuer.transport()``, an ``httpx.MockTransport``, which
            serves both sides).  :meth:`verify` needs an
            ``httpx.AsyncBaseTransport``, :meth:`verify_sync` an
            ``httpx.BaseTransport``; the wrong kind is a
            :class:`ConfigurationError` at the first call of that side.  The
            verifier owns the clients built on it (:meth:`aclose`,
            :meth:`close`).  Redirects are never followed.
        token_cache_size: verified tokens kept in memory (0 turns the cache off).
        token_cache_ttl: seconds a verified token stays cached (never past ``exp``).
        store: a :class:`~okta_bearer._store.memory.Store` shared by the processes
            of a fleet (``okta_bearer.redis_store.RedisStore``): key sets are
            then fetched once for all of them and refetches coordinated by a
            lease.  Without it each process fetches its own keys.  The sync
            side uses its blocking face (``store.sync``, a
            :class:`~okta_bearer._store.memory.SyncStore`); a store that is
            only a ``SyncStore`` serves the sync side alone.
        events: metric hooks (:class:`okta_bearer.metrics.PrometheusEvents`
            or any :class:`~okta_bearer.metrics.Events`): verified-token
            cache hits and misses, key lookups, discovery and JWKS fetches.
            ``None`` (the default) calls nothing.
        clock: seconds since the epoch; injectable for tests.

    Both sides are safe to share: one verifier serves every task of an event
    loop (:meth:`verify`) or every thread of a WSGI worker
    (:meth:`verify_sync`).  Each side fetches keys on its own (single-flight
    within the side, no lock held during a network call) and keeps its own
    verified-token cache (the same rules; the threads' behind a lock never held
    during a fetch or a signature check).

    Raises:
        ConfigurationError: at construction, naming the offending option.
    """

    def __init__(
        self,
        issuer: str,
        audience: str | Iterable[str] | None,
        *,
        jwks_uri: str | None = None,
        algorithms: Iterable[str] = ("RS256",),
        leeway: float = 30.0,
        max_token_age: float | None = None,
        client_ids: Iterable[str] | None = None,
        tenants: Iterable[str] | Literal["any"] | None = None,
        required_scopes: Iterable[str] = (),
        require_at_jwt: bool = False,
        max_token_size: int = 16 * 1024,
        keys: KeyPolicy | None = None,
        transport: httpx.AsyncBaseTransport | httpx.BaseTransport | None = None,
        token_cache_size: int = 4096,
        token_cache_ttl: float = 300.0,
        store: Store | SyncStore | None = None,
        events: Events | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        tenant_ids, any_tenant = _check_tenants(issuer, tenants, jwks_uri)
        if tenant_ids is None:
            issuer = check_url("issuer", issuer)
        if jwks_uri is not None:
            jwks_uri = check_url("jwks_uri", jwks_uri)
        audiences = (
            () if audience is None else check_strings("audience", audience, allow_empty=False)
        )
        algs = check_strings("algorithms", algorithms, allow_empty=False)
        for alg in algs:
            if alg.lower() == "none" or alg.upper().startswith("HS"):
                raise ConfigurationError(
                    f"algorithms: {alg!r} is refused; access tokens must be signed "
                    "with the issuer's private key (RS256 for Okta)"
                )
            if alg not in SUPPORTED_ALGORITHMS:
                supported = ", ".join(sorted(SUPPORTED_ALGORITHMS))
                raise ConfigurationError(f"algorithms: {alg!r} is not one of {supported}")
        ids = (
            None
            if client_ids is None
            else frozenset(check_strings("client_ids", client_ids, allow_empty=False))
        )
        if audience is None and not ids:
            raise ConfigurationError(
                "audience=None needs client_ids: without an audience, the client ids "
                "are what tie a token to this API (as Amazon Cognito's access tokens)"
            )
        scopes = check_strings("required_scopes", required_scopes, allow_empty=True)
        for scope in scopes:
            if not is_scope_token(scope):
                raise ConfigurationError(f"required_scopes: {scope!r} is not a valid scope name")
        max_age = (
            None
            if max_token_age is None
            else check_number("max_token_age", max_token_age, 1, 365 * 86400)
        )
        if keys is None:
            keys = KeyPolicy()
        elif not isinstance(keys, KeyPolicy):
            raise ConfigurationError("keys must be a KeyPolicy")
        if transport is not None and not isinstance(
            transport, (httpx.AsyncBaseTransport, httpx.BaseTransport)
        ):
            raise ConfigurationError(
                "transport must be an httpx.AsyncBaseTransport (for verify) or an "
                "httpx.BaseTransport (for verify_sync), e.g. LocalIssuer.transport()"
            )
        if store is not None and not isinstance(store, (Store, SyncStore)):
            raise ConfigurationError(
                "store must implement okta_bearer.Store (set_if_absent, set, get, delete, aclose)"
            )
        if not callable(clock):
            raise ConfigurationError("clock must be a callable returning epoch seconds")
        self._events = check_events(events)

        self.issuer = issuer
        self.audiences = audiences
        self.algorithms = frozenset(algs)
        self.required_scopes = scopes
        self._policy = Policy(
            issuer=issuer,
            audiences=None if audience is None else frozenset(audiences),
            leeway=check_number("leeway", leeway, 0, 300),
            max_token_age=max_age,
            client_ids=ids,
            tenants=tenant_ids,
            any_tenant=any_tenant,
        )
        self._require_at_jwt = check_bool("require_at_jwt", require_at_jwt)
        self._max_size = check_int("max_token_size", max_token_size, 512, 1024 * 1024)
        # Headers checked before (both sides): see okta_bearer._jwt.jws.HeaderMemo.
        self._headers: HeaderMemo = {}
        self._clock = clock
        self._transport = transport
        self._store = store
        self._jwks_uri = jwks_uri
        self._algs = algs
        self._key_policy = keys
        # The async side is built now (an event loop owns nothing yet); what
        # it cannot use is refused at its first call, as the sync side's is.
        self._async_problem = _wrong_kind(transport, store, sync=False)
        self._keys = KeyStore(
            issuer=issuer,
            jwks_uri=jwks_uri,
            algorithms=algs,
            policy=keys,
            transport=transport if isinstance(transport, httpx.AsyncBaseTransport) else None,
            clock=clock,
            on_withdrawn=self._forget_withdrawn,
            store=store if isinstance(store, Store) else None,
            events=self._events,
        )
        self._sync_keys: SyncKeyStore | None = None
        self._sync_lock = threading.Lock()
        # Verified tokens: token -> (claims, deadline, kid), least recently used
        # first.  cachetools' LRUCache bounds the size; expiry is one deadline
        # per entry checked on every hit (TTLCache's timer cost ~5 us per
        # lookup).  The deadline folds the cache TTL, the token's expiry and
        # its maximum age; the kid lets a withdrawn key take its tokens along.
        size = check_int("token_cache_size", token_cache_size, 0, 10_000_000)
        self._cache_ttl = check_number("token_cache_ttl", token_cache_ttl, 0.001, 86400)
        # One cache per side, each with the keys it was verified with: the
        # event loop's is touched by its one thread only (no lock on the ASGI
        # hot path); the threads' is behind a lock (LRUCache is not
        # thread-safe: a hit reorders it), held for cache operations only.
        self._cache: LRUCache[str, tuple[Claims, float, str]] | None = (
            LRUCache(maxsize=size) if size else None
        )
        self._sync_cache: LRUCache[str, tuple[Claims, float, str]] | None = (
            LRUCache(maxsize=size) if size else None
        )
        self._sync_cache_lock = threading.Lock()

    @property
    def keys(self) -> KeyStore:
        """The key store (exposes ``fetch_counts`` and the discovered ``jwks_uri``)."""
        return self._keys

    async def verify(self, token: str, required_scopes: Iterable[str] = ()) -> Claims:
        """Verify ``token`` and return its claims.

        ``required_scopes`` are required in addition to the verifier's own.
        A token seen before is answered from the verified-token cache: its
        signature is not checked again, but expiry and scopes are, and a
        refresh that withdraws its key evicts it.

        Keys come from the async key store (:mod:`okta_bearer._keys.keystore`):
        concurrent calls on a cold cache await one refresh task, and a
        refresh-ahead runs as a background task.  Call it in an event loop;
        from threads (WSGI) call :meth:`verify_sync`.

        The claims are returned whatever binds the token: ``verify()`` does
        not know how the token was presented.  A caller that received it
        without a proof of possession (``Authorization: Bearer``, a form, a
        header of its own) must call :func:`okta_bearer.check_bearer` on the
        claims before using them, or before checking scopes of its own, so
        that a DPoP-bound or otherwise sender-constrained token (``cnf``) is
        refused with 401 (RFC 9449 section 7.2); :class:`~okta_bearer.BearerAuthMiddleware`
        and :class:`okta_bearer.mcp.McpTokenVerifier` do this.  An
        :class:`~okta_bearer.InsufficientScope` raised here carries the claims
        (``error.claims``) so that check can still come first.

        Raises:
            InvalidToken: the token is not acceptable (401).
            InsufficientScope: the token is valid but lacks a scope (403).
            KeysUnavailable: the issuer's keys cannot be obtained (503).
        """
        now = self._clock()
        cache = self._cache
        if cache is not None:
            # The event loop's own cache: one thread, no lock on the hot path.
            hit = cache.get(token)  # an LRU hit also marks the entry recently used
            if hit is not None:
                if now < hit[1]:
                    # Inlined (the ASGI hot path): what _hit does for the sync side.
                    if self._events is not None:
                        self._events.cache("token", True)
                    if required_scopes or self.required_scopes:
                        check_scopes(hit[0], (*self.required_scopes, *required_scopes))
                    return hit[0]
                del cache[token]
            if self._events is not None:
                self._events.cache("token", False)
        parsed = self._parse(token)
        if self._async_problem is not None:
            raise ConfigurationError(self._async_problem)
        check = await self._keys.get(parsed.kid, parsed.alg)
        claims, deadline = self._accept(parsed, check, now)
        if cache is not None:
            cache[token] = (claims, deadline, parsed.kid)
        return self._scoped(claims, required_scopes)

    def verify_sync(self, token: str, required_scopes: Iterable[str] = ()) -> Claims:
        """:meth:`verify`, blocking the calling thread (Flask, Django, any WSGI app).

        The same checks, the same verified-token cache rules (a cache of the
        sync side's own, behind a lock) and the same events;
        keys come from the sync key store (:mod:`okta_bearer._keys.sync_keystore`),
        which shares one fetch between threads and holds no lock during it.
        Thread-safe: call it from every thread of a worker.

        Raises:
            InvalidToken: the token is not acceptable (401).
            InsufficientScope: the token is valid but lacks a scope (403).
            KeysUnavailable: the issuer's keys cannot be obtained (503).
            ConfigurationError: ``transport`` is not an ``httpx.BaseTransport``
                or ``store`` has no blocking face (at the first call).
        """
        now = self._clock()
        cache, lock = self._sync_cache, self._sync_cache_lock
        if cache is not None:
            with lock:
                hit = cache.get(token)  # an LRU hit also marks the entry recently used
                if hit is not None and now >= hit[1]:
                    del cache[token]
                    hit = None
            if hit is not None:
                return self._hit(hit[0], required_scopes)
            if self._events is not None:
                self._events.cache("token", False)
        parsed = self._parse(token)
        check = self._sync_side().get(parsed.kid, parsed.alg)
        claims, deadline = self._accept(parsed, check, now)
        if cache is not None:
            with lock:
                cache[token] = (claims, deadline, parsed.kid)
        return self._scoped(claims, required_scopes)

    def _hit(self, claims: Claims, required_scopes: Iterable[str]) -> Claims:
        # A verified token seen before and still within its deadline.
        if self._events is not None:
            self._events.cache("token", True)
        return self._scoped(claims, required_scopes)

    def _scoped(self, claims: Claims, required_scopes: Iterable[str]) -> Claims:
        # The verifier's scopes and the caller's, checked on every answer.
        if required_scopes or self.required_scopes:
            check_scopes(claims, (*self.required_scopes, *required_scopes))
        return claims

    def _parse(self, token: str) -> ParsedToken:
        return parse_token(
            token,
            algorithms=self.algorithms,
            max_size=self._max_size,
            require_at_jwt=self._require_at_jwt,
            memo=self._headers,
        )

    def _accept(
        self, parsed: ParsedToken, check: SignatureCheck, now: float
    ) -> tuple[Claims, float]:
        # Signature and claims, the same for both sides: the claims and how
        # long they may be cached (no longer than the token is acceptable, nor
        # than the cache TTL).
        if not check(parsed.signing_input, parsed.signature):
            raise InvalidToken("bad_signature", "Token signature is invalid", {"kid": parsed.kid})
        payload = decode_payload(parsed)
        policy = self._policy
        claims = validate_claims(payload, policy, now)
        deadline = min(payload["exp"] + policy.leeway, now + self._cache_ttl)
        if policy.max_token_age is not None:
            deadline = min(deadline, payload["iat"] + policy.max_token_age + policy.leeway)
        return claims, deadline

    def _sync_side(self) -> SyncKeyStore:
        keys = self._sync_keys
        if keys is not None:
            return keys
        problem = _wrong_kind(self._transport, self._store, sync=True)
        if problem is not None:
            raise ConfigurationError(problem)
        with self._sync_lock:
            if self._sync_keys is None:
                transport = self._transport
                self._sync_keys = SyncKeyStore(
                    issuer=self.issuer,
                    jwks_uri=self._jwks_uri,
                    algorithms=self._algs,
                    policy=self._key_policy,
                    transport=transport if isinstance(transport, httpx.BaseTransport) else None,
                    clock=self._clock,
                    on_withdrawn=self._forget_withdrawn_sync,
                    store=None if self._store is None else sync_face(self._store),
                    events=self._events,
                )
            return self._sync_keys

    @property
    def sync_keys(self) -> SyncKeyStore:
        """The sync side's key store (``fetch_counts``, ``jwks_uri``), built on first use."""
        return self._sync_side()

    async def warm_up(self) -> list[str]:
        """Fetch the issuer's metadata and keys now, so the first request pays nothing.

        The middleware calls it at lifespan start-up.  Bounded by
        ``KeyPolicy.timeout``; never raises for an issuer problem.

        Returns:
            The problems found (empty when the keys are ready), each naming
            the issuer, what failed and what to check.
        """
        if self._async_problem is not None:
            raise ConfigurationError(self._async_problem)
        problem = await self._keys.warm_up()
        return [] if problem is None else [f"issuer {self.issuer}: {problem}"]

    def warm_up_sync(self) -> list[str]:
        """:meth:`warm_up` for the sync side (call it once at WSGI start-up), blocking."""
        problem = self._sync_side().warm_up()
        return [] if problem is None else [f"issuer {self.issuer}: {problem}"]

    def _forget_withdrawn(self, kids: frozenset[str]) -> None:
        # Runs once per refresh that drops a key: tokens it signed go with it.
        _forget(self._cache, kids)

    def _forget_withdrawn_sync(self, kids: frozenset[str]) -> None:
        # The same for the threads' cache, from the sync key store's refresh.
        with self._sync_cache_lock:
            _forget(self._sync_cache, kids)

    async def aclose(self) -> None:
        """Release the HTTP clients (the verifier's own) and any refresh in flight."""
        await self._keys.aclose()
        self.close()

    def close(self) -> None:
        """Release what the sync side owns (its ``httpx.Client``), after a refresh in flight."""
        keys = self._sync_keys
        if keys is not None:
            keys.close()

    def __enter__(self) -> TokenVerifier:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    async def __aenter__(self) -> TokenVerifier:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


def _wrong_kind(transport: object, store: object, *, sync: bool) -> str | None:
    """Why ``transport`` or ``store`` cannot serve one side (``None``: they can)."""
    try:
        if sync:
            sync_transport("transport", transport)
            if store is not None:
                sync_face(store)
            return None
        async_transport("transport", transport)
    except ConfigurationError as exc:
        return str(exc)
    if store is not None and not isinstance(store, Store):
        return "store: verify() needs an async okta_bearer.Store (this one is sync only)"
    return None


def _forget(cache: LRUCache[str, tuple[Claims, float, str]] | None, kids: frozenset[str]) -> None:
    """Drop the cached tokens signed by any of ``kids``."""
    if cache is not None:
        for token in [t for t, (_, _, kid) in cache.items() if kid in kids]:
            del cache[token]
