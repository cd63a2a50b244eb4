"""TokenVerifier: the one place where a token is judged."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

import httpx
from cachetools import LRUCache
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from jwt.exceptions import PyJWTError

from ._claims import Claims
from ._errors import ConfigurationError, InvalidToken
from ._jws import decode_payload, parse_token
from ._keys import SUPPORTED_ALGORITHMS, KeyStore
from ._rfc6750 import is_scope_token
from ._validation import Policy, check_scopes, validate_claims

__all__ = ["TokenVerifier"]

_LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


# Signature checks for the common algorithms, with their padding and hash objects
# built once.  They do what PyJWT's RSAAlgorithm/ECAlgorithm.verify do (False on
# a bad signature, including an ECDSA signature of the wrong length) without
# building those objects on every call; other algorithms use PyJWT's.
SignatureCheck = Callable[[Any, bytes, bytes], bool]


def _pkcs1_check(digest: hashes.HashAlgorithm) -> SignatureCheck:
    pkcs1 = padding.PKCS1v15()

    def check(key: Any, data: bytes, signature: bytes) -> bool:
        try:
            key.verify(signature, data, pkcs1, digest)
        except InvalidSignature:
            return False
        return True

    return check


def _ecdsa_check(digest: hashes.HashAlgorithm) -> SignatureCheck:
    ecdsa = ec.ECDSA(digest)

    def check(key: Any, data: bytes, signature: bytes) -> bool:
        # RFC 7518 section 3.4: the signature is R || S, each as long as the curve order.
        size = (key.curve.key_size + 7) // 8
        if len(signature) != 2 * size:
            return False
        der = encode_dss_signature(
            int.from_bytes(signature[:size], "big"), int.from_bytes(signature[size:], "big")
        )
        try:
            key.verify(der, data, ecdsa)
        except InvalidSignature:
            return False
        return True

    return check


_SIGNATURE_CHECKS: dict[str, SignatureCheck] = {
    "RS256": _pkcs1_check(hashes.SHA256()),
    "RS384": _pkcs1_check(hashes.SHA384()),
    "RS512": _pkcs1_check(hashes.SHA512()),
    "ES256": _ecdsa_check(hashes.SHA256()),
    "ES384": _ecdsa_check(hashes.SHA384()),
    "ES512": _ecdsa_check(hashes.SHA512()),
}


def _check_url(option: str, url: object) -> str:
    if not isinstance(url, str) or not url:
        raise ConfigurationError(f"{option} must be a non-empty URL string")
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.scheme not in ("https", "http") or not host:
        raise ConfigurationError(f"{option} must be an absolute https:// URL, got {url!r}")
    if parts.username is not None or parts.password is not None:
        raise ConfigurationError(f"{option} must not contain user information")
    if parts.query or parts.fragment or "#" in url:
        raise ConfigurationError(f"{option} must not contain a query or fragment")
    if parts.scheme == "http" and not (host in _LOOPBACK_HOSTS or host.startswith("127.")):
        raise ConfigurationError(
            f"{option} must use https:// (plain http is allowed only on loopback), got {url!r}"
        )
    if "{" in url or "yourokta" in url.lower():
        raise ConfigurationError(f"{option} still holds a placeholder: {url!r}")
    if "-admin." in host:
        raise ConfigurationError(
            f"{option} points at an Okta admin domain; use the org domain instead: {url!r}"
        )
    return url


def _number(option: str, value: object, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ConfigurationError(f"{option} must be a finite number, got {value!r}")
    if not low <= value <= high:
        raise ConfigurationError(f"{option} must be between {low} and {high}, got {value!r}")
    return float(value)


def _strings(option: str, value: object, *, allow_empty: bool) -> tuple[str, ...]:
    items = (value,) if isinstance(value, str) else value
    if not isinstance(items, Iterable):
        raise ConfigurationError(f"{option} must be a string or a list of strings")
    result = tuple(items)
    if not all(isinstance(item, str) and item for item in result):
        raise ConfigurationError(f"{option} must hold only non-empty strings")
    if not result and not allow_empty:
        raise ConfigurationError(f"{option} must not be empty")
    return result


class TokenVerifier:
    """Verify OAuth 2.0 JWT access tokens from one Okta (or OpenID Connect) issuer.

    Checks, in order: size, compact JWS form, header (``alg`` allow-list,
    ``crit``, ``typ``, ``kid``), the signature with the issuer's published key,
    then ``iss``, ``aud``, ``exp``, ``nbf``, ``iat``, optional maximum age,
    optional ``cid`` allow-list, and finally scopes.

    Args:
        issuer: the authorization server's issuer, e.g.
            ``https://example.okta.com/oauth2/default``; compared exactly.
        audience: accepted ``aud`` value, or several (a token needs one of them).
        jwks_uri: where the keys are; discovered from the issuer's metadata when
            not given (``/.well-known/oauth-authorization-server``, then
            ``/.well-known/openid-configuration``).
        algorithms: accepted signature algorithms; Okta signs with RS256 only.
            ``none`` and HMAC (``HS*``) are refused.
        leeway: clock skew tolerated on ``exp``, ``nbf`` and ``iat``, seconds
            (default 30, at most 300).
        max_token_age: reject tokens whose ``iat`` is older than this (seconds).
        client_ids: accept only tokens whose ``cid`` (or ``client_id``) is listed.
        required_scopes: scopes every token must hold (routes can add more).
        require_at_jwt: require ``typ: at+jwt`` (RFC 9068); off by default since
            Okta access tokens carry no ``typ``.
        max_token_size: tokens longer than this many characters are refused
            before parsing (default 16 KiB).
        http_client: an ``httpx.AsyncClient`` to fetch metadata and keys with;
            when omitted one is created and closed by :meth:`aclose`.
        timeout: total seconds allowed for one key refresh (discovery plus JWKS).
        keys_min_ttl, keys_max_ttl: bounds on how long keys are fresh, applied
            to the JWKS response's ``Cache-Control: max-age``.
        keys_default_ttl: freshness when the response has no ``max-age``.
        keys_max_stale: how long past their expiry known-good keys keep serving
            while the issuer cannot be reached.
        unknown_kid_cooldown: minimum seconds between refetches caused by an
            unknown ``kid``.
        token_cache_size: verified tokens kept in memory (0 turns the cache off).
        token_cache_ttl: seconds a verified token stays cached (never past ``exp``).
        clock: seconds since the epoch; injectable for tests.

    Raises:
        ConfigurationError: at construction, naming the offending option.
    """

    def __init__(
        self,
        issuer: str,
        audience: str | Iterable[str],
        *,
        jwks_uri: str | None = None,
        algorithms: Iterable[str] = ("RS256",),
        leeway: float = 30.0,
        max_token_age: float | None = None,
        client_ids: Iterable[str] | None = None,
        required_scopes: Iterable[str] = (),
        require_at_jwt: bool = False,
        max_token_size: int = 16 * 1024,
        http_client: httpx.AsyncClient | None = None,
        timeout: float = 5.0,
        keys_min_ttl: float = 300.0,
        keys_max_ttl: float = 86400.0,
        keys_default_ttl: float = 3600.0,
        keys_max_stale: float = 86400.0,
        unknown_kid_cooldown: float = 30.0,
        token_cache_size: int = 4096,
        token_cache_ttl: float = 300.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        issuer = _check_url("issuer", issuer)
        if jwks_uri is not None:
            jwks_uri = _check_url("jwks_uri", jwks_uri)
        audiences = _strings("audience", audience, allow_empty=False)
        algs = _strings("algorithms", algorithms, allow_empty=False)
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
            else frozenset(_strings("client_ids", client_ids, allow_empty=False))
        )
        scopes = _strings("required_scopes", required_scopes, allow_empty=True)
        for scope in scopes:
            if not is_scope_token(scope):
                raise ConfigurationError(f"required_scopes: {scope!r} is not a valid scope name")
        max_age = (
            None
            if max_token_age is None
            else _number("max_token_age", max_token_age, 1, 365 * 86400)
        )
        if http_client is not None and not isinstance(http_client, httpx.AsyncClient):
            raise ConfigurationError("http_client must be an httpx.AsyncClient")
        if isinstance(max_token_size, bool) or not isinstance(max_token_size, int):
            raise ConfigurationError("max_token_size must be an integer")
        _number("max_token_size", max_token_size, 512, 1024 * 1024)
        if isinstance(token_cache_size, bool) or not isinstance(token_cache_size, int):
            raise ConfigurationError("token_cache_size must be an integer")
        _number("token_cache_size", token_cache_size, 0, 10_000_000)
        min_ttl = _number("keys_min_ttl", keys_min_ttl, 1, 7 * 86400)
        max_ttl = _number("keys_max_ttl", keys_max_ttl, min_ttl, 30 * 86400)

        self.issuer = issuer
        self.audiences = audiences
        self.algorithms = frozenset(algs)
        self.required_scopes = scopes
        self._policy = Policy(
            issuer=issuer,
            audiences=frozenset(audiences),
            leeway=_number("leeway", leeway, 0, 300),
            max_token_age=max_age,
            client_ids=ids,
        )
        self._require_at_jwt = bool(require_at_jwt)
        self._max_size = max_token_size
        self._clock = clock
        self._keys = KeyStore(
            issuer=issuer,
            jwks_uri=jwks_uri,
            algorithms=algs,
            http_client=http_client,
            timeout=_number("timeout", timeout, 0.01, 120),
            min_ttl=min_ttl,
            max_ttl=max_ttl,
            default_ttl=min(
                max(_number("keys_default_ttl", keys_default_ttl, 1, 30 * 86400), min_ttl), max_ttl
            ),
            max_stale=_number("keys_max_stale", keys_max_stale, 0, 30 * 86400),
            cooldown=_number("unknown_kid_cooldown", unknown_kid_cooldown, 0, 86400),
            clock=clock,
        )
        # Verified tokens: token -> (claims, deadline), least recently used first.
        # cachetools' LRUCache bounds the size; expiry is one deadline per entry
        # (checked on every hit) rather than TTLCache's timer, which cost ~5 us
        # per lookup on the hot path.  The deadline folds the cache TTL and the
        # token's expiry.
        self._cache_ttl = _number("token_cache_ttl", token_cache_ttl, 0.001, 86400)
        self._cache: LRUCache[str, tuple[Claims, float]] | None = (
            LRUCache(maxsize=token_cache_size) if token_cache_size else None
        )

    @property
    def keys(self) -> KeyStore:
        """The key store (exposes ``fetch_counts`` and the discovered ``jwks_uri``)."""
        return self._keys

    async def verify(self, token: str, scopes: Iterable[str] = ()) -> Claims:
        """Verify ``token`` and return its claims.

        ``scopes`` are required in addition to the verifier's ``required_scopes``.
        A token seen before is answered from the verified-token cache: its
        signature is not checked again, but expiry and scopes are.

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
                    claims = hit[0]
                    if scopes or self.required_scopes:
                        check_scopes(claims, (*self.required_scopes, *scopes))
                    return claims
                del cache[token]

        # A fresh token, checked in one pass (kept inline: this is the hot path).
        parsed = parse_token(
            token,
            algorithms=self.algorithms,
            max_size=self._max_size,
            require_at_jwt=self._require_at_jwt,
        )
        algorithm, key = await self._keys.get(parsed.kid, parsed.alg)
        check = _SIGNATURE_CHECKS.get(parsed.alg)
        try:
            if check is not None:
                valid = check(key, parsed.signing_input, parsed.signature)
            else:
                valid = algorithm.verify(parsed.signing_input, key, parsed.signature)
        except (PyJWTError, ValueError, TypeError) as exc:
            raise InvalidToken("bad_signature", "Token signature is invalid") from exc
        if not valid:
            raise InvalidToken("bad_signature", "Token signature is invalid")
        payload = decode_payload(parsed)
        policy = self._policy
        claims = validate_claims(payload, policy, now)

        if cache is not None:
            # Cached no longer than the token is acceptable, nor than the cache TTL.
            deadline = min(payload["exp"] + policy.leeway, now + self._cache_ttl)
            if policy.max_token_age is not None:
                deadline = min(deadline, payload["iat"] + policy.max_token_age + policy.leeway)
            cache[token] = (claims, deadline)
        if scopes or self.required_scopes:
            check_scopes(claims, (*self.required_scopes, *scopes))
        return claims

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
