"""TokenVerifier: the one place where a JWT access token is judged.

``verify()`` reads top to bottom: cache, parse, key, check, decode, validate.
Configuration is checked by :mod:`okta_bearer._config`, keys and signature
checks come from :mod:`okta_bearer._keys.keystore`, claims rules from
:mod:`okta_bearer._jwt.validation`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from types import TracebackType
from typing import Literal

import httpx
from cachetools import LRUCache

from .._config import (
    KeyPolicy,
    check_bool,
    check_int,
    check_number,
    check_strings,
    check_url,
)
from .._errors import ConfigurationError, InvalidToken
from .._events import Events, check_events
from .._http.rfc6750 import is_scope_token
from .._keys.keystore import KeyStore
from .._options import checked_options
from .._store.memory import Store
from .claims import Claims
from .jwk import SUPPORTED_ALGORITHMS
from .jws import decode_payload, parse_token
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
            ``LocalIssuer.transport()``); the verifier owns the client built on
            it and :meth:`aclose` closes it.  Redirects are never followed.
        token_cache_size: verified tokens kept in memory (0 turns the cache off).
        token_cache_ttl: seconds a verified token stays cached (never past ``exp``).
        store: a :class:`~okta_bearer._store.memory.Store` shared by the processes
            of a fleet (``okta_bearer.redis_store.RedisStore``): key sets are
            then fetched once for all of them and refetches coordinated by a
            lease.  Without it each process fetches its own keys.
        events: metric hooks (:class:`okta_bearer.metrics.PrometheusEvents`
            or any :class:`~okta_bearer.metrics.Events`): verified-token
            cache hits and misses, key lookups, discovery and JWKS fetches.
            ``None`` (the default) calls nothing.
        clock: seconds since the epoch; injectable for tests.

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
        transport: httpx.AsyncBaseTransport | None = None,
        token_cache_size: int = 4096,
        token_cache_ttl: float = 300.0,
        store: Store | None = None,
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
        if transport is not None and not isinstance(transport, httpx.AsyncBaseTransport):
            raise ConfigurationError(
                "transport must be an httpx.AsyncBaseTransport (e.g. LocalIssuer.transport())"
            )
        if store is not None and not isinstance(store, Store):
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
        self._clock = clock
        self._keys = KeyStore(
            issuer=issuer,
            jwks_uri=jwks_uri,
            algorithms=algs,
            policy=keys,
            transport=transport,
            clock=clock,
            on_withdrawn=self._forget_withdrawn,
            store=store,
            events=self._events,
        )
        # Verified tokens: token -> (claims, deadline, kid), least recently used
        # first.  cachetools' LRUCache bounds the size; expiry is one deadline
        # per entry checked on every hit (TTLCache's timer cost ~5 us per
        # lookup).  The deadline folds the cache TTL, the token's expiry and
        # its maximum age; the kid lets a withdrawn key take its tokens along.
        size = check_int("token_cache_size", token_cache_size, 0, 10_000_000)
        self._cache_ttl = check_number("token_cache_ttl", token_cache_ttl, 0.001, 86400)
        self._cache: LRUCache[str, tuple[Claims, float, str]] | None = (
            LRUCache(maxsize=size) if size else None
        )

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
            hit = cache.get(token)  # an LRU hit also marks the entry recently used
            if hit is not None:
                if now < hit[1]:
                    if self._events is not None:
                        self._events.cache("token", True)
                    claims = hit[0]
                    if required_scopes or self.required_scopes:
                        check_scopes(claims, (*self.required_scopes, *required_scopes))
                    return claims
                del cache[token]
            if self._events is not None:
                self._events.cache("token", False)

        parsed = parse_token(
            token,
            algorithms=self.algorithms,
            max_size=self._max_size,
            require_at_jwt=self._require_at_jwt,
        )
        check = await self._keys.get(parsed.kid, parsed.alg)
        if not check(parsed.signing_input, parsed.signature):
            raise InvalidToken("bad_signature", "Token signature is invalid", {"kid": parsed.kid})
        payload = decode_payload(parsed)
        policy = self._policy
        claims = validate_claims(payload, policy, now)

        if cache is not None:
            # Cached no longer than the token is acceptable, nor than the cache TTL.
            deadline = min(payload["exp"] + policy.leeway, now + self._cache_ttl)
            if policy.max_token_age is not None:
                deadline = min(deadline, payload["iat"] + policy.max_token_age + policy.leeway)
            cache[token] = (claims, deadline, parsed.kid)
        if required_scopes or self.required_scopes:
            check_scopes(claims, (*self.required_scopes, *required_scopes))
        return claims

    async def warm_up(self) -> list[str]:
        """Fetch the issuer's metadata and keys now, so the first request pays nothing.

        The middleware calls it at lifespan start-up.  Bounded by
        ``KeyPolicy.timeout``; never raises for an issuer problem.

        Returns:
            The problems found (empty when the keys are ready), each naming
            the issuer, what failed and what to check.
        """
        problem = await self._keys.warm_up()
        return [] if problem is None else [f"issuer {self.issuer}: {problem}"]

    def _forget_withdrawn(self, kids: frozenset[str]) -> None:
        # Runs once per refresh that drops a key: tokens it signed go with it.
        cache = self._cache
        if cache is not None:
            for token in [t for t, (_, _, kid) in cache.items() if kid in kids]:
                del cache[token]

    async def aclose(self) -> None:
        """Release the HTTP client (if the verifier created it) and any refresh in flight."""
        await self._keys.aclose()

    async def __aenter__(self) -> TokenVerifier:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
