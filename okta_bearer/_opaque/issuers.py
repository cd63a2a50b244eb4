"""Routing a token to the verifier that may judge it: by issuer, by shape, by profile.

* :class:`MultiIssuerVerifier` serves several authorization servers at once
  (tenants, custom domains, a migration between Okta orgs).  It reads the
  token's *unverified* ``iss`` only to pick among the configured verifiers;
  that verifier then checks everything, ``iss`` included, against its own
  configuration.  An ``iss`` nobody configured is refused before any network
  call, and no URL is ever taken from a token (no SSRF through ``iss``).
* :class:`TokenShapeVerifier` sends JWTs to local verification and every
  other token (or every token, by configuration) to introspection.
* :class:`TokenProfile` says which claims carry scopes, client id and
  subject: Okta (``scp``/``cid``), RFC 9068 (``scope``/``client_id``), or
  any mapping (``TokenProfile.okta()``, ``TokenProfile.rfc9068()``,
  ``TokenProfile(scope_claim=...)``).
"""

from __future__ import annotations

import binascii
import dataclasses
import json
from base64 import urlsafe_b64decode
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from .._errors import ConfigurationError, InvalidToken
from .._jwt.claims import Claims, scopes_of
from .._jwt.validation import TENANT_PLACEHOLDER, check_scopes, is_tenant_id
from .._options import checked_options
from .._protocols import SyncVerifier, Verifier, warm_up

__all__ = [
    "MultiIssuerVerifier",
    "TokenProfile",
    "TokenShapeVerifier",
    "is_jwt_shaped",
    "issuers_of",
    "unverified_issuer",
]

_B64URL = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
_MAX_TOKEN = 16 * 1024


def is_jwt_shaped(token: str) -> bool:
    """True for three non-empty base64url segments (a compact JWS, RFC 7515 section 7.1)."""
    parts = token.split(".")
    return (
        len(parts) == 3
        and token.isascii()
        and all(part and _B64URL.issuperset(part.encode("ascii")) for part in parts)
    )


def unverified_issuer(token: str) -> str:
    """The ``iss`` of a JWT-shaped token, read without checking anything else.

    Only for choosing a verifier: the chosen verifier checks the signature and
    ``iss`` again.

    Raises:
        InvalidToken: the payload is not a JSON object, or has no string ``iss``.
    """
    if len(token) > _MAX_TOKEN or not is_jwt_shaped(token):
        raise InvalidToken("malformed", "Token is malformed")
    segment = token.split(".")[1]
    try:
        payload = json.loads(urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    except (ValueError, binascii.Error, RecursionError) as exc:
        raise InvalidToken("malformed", "Token is malformed") from exc
    if not isinstance(payload, dict):
        raise InvalidToken("malformed", "Token is malformed")
    iss = payload.get("iss")
    if not isinstance(iss, str) or not iss:
        raise InvalidToken("missing_claim", "Token has no 'iss' claim")
    return iss


def _listed(value: Any) -> Any:
    # Claims.raw may hold tuples for JSON arrays; scopes_of reads lists.
    return list(value) if isinstance(value, tuple) else value


@checked_options
@dataclass(frozen=True)
class TokenProfile:
    """Which claims carry the scopes, the client id and the subject.

    Attributes:
        scope_claim: a space-separated string or a list of strings.  A tuple
            of names reads a nested claim, e.g. Keycloak's realm roles
            ``("realm_access", "roles")``.
        client_id_claim: a string.
        subject_claim: a string.
    """

    scope_claim: str | tuple[str, ...] = "scp"
    client_id_claim: str = "cid"
    subject_claim: str = "sub"

    def __post_init__(self) -> None:
        path = self.scope_claim
        names = path if isinstance(path, tuple) else (path,)
        if not names or not all(isinstance(n, str) and n for n in names):
            raise ConfigurationError(
                "TokenProfile.scope_claim must be a non-empty string or a tuple of them"
            )
        for name in ("client_id_claim", "subject_claim"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value:
                raise ConfigurationError(f"TokenProfile.{name} must be a non-empty string")

    @classmethod
    def okta(cls) -> TokenProfile:
        """Okta access tokens: ``scp`` (a list of strings) and ``cid``."""
        return cls("scp", "cid")

    @classmethod
    def rfc9068(cls) -> TokenProfile:
        """RFC 9068 JWT access tokens and RFC 7662 answers: ``scope`` and ``client_id``."""
        return cls("scope", "client_id")

    def apply(self, claims: Claims) -> Claims:
        """``claims`` with scopes, client id and subject read from this profile's claims.

        Raises:
            InvalidToken: the scope claim is neither a string nor a list of strings.
        """
        raw = claims.raw
        value = _listed(_nested(raw, self.scope_claim))
        # A string or a list of strings, as Okta's scp; anything else is malformed (401).
        scopes = scopes_of({"scp": value}) if value is not None else frozenset()
        if scopes is None:
            shown = ".".join(self.scope_claim) if isinstance(self.scope_claim, tuple) else None
            raise InvalidToken(
                "bad_claim", f"Token '{shown or self.scope_claim}' claim is malformed"
            )
        cid, sub = raw.get(self.client_id_claim), raw.get(self.subject_claim)
        return dataclasses.replace(
            claims,
            scopes=scopes,
            client_id=cid if isinstance(cid, str) else None,
            sub=sub if isinstance(sub, str) else None,
        )


def issuers_of(verifier: object) -> tuple[str, ...]:
    """Every issuer whose tokens ``verifier`` may accept, in configuration order.

    A verifier routing to others (:class:`MultiIssuerVerifier`,
    :class:`TokenShapeVerifier`) lists them in ``accepted_issuers``; any other
    names its one ``issuer`` (a :class:`~okta_bearer.TokenVerifier`, an
    :class:`~okta_bearer.IntrospectionVerifier`).  Empty when it names none.
    The middleware's RFC 9728 document advertises these.
    """
    listed = getattr(verifier, "accepted_issuers", None)
    if isinstance(listed, tuple) and all(isinstance(i, str) for i in listed):
        return listed
    issuer = getattr(verifier, "issuer", None)
    return (issuer,) if isinstance(issuer, str) and issuer else ()


def _joined(*verifiers: object) -> tuple[str, ...]:
    return tuple(dict.fromkeys(i for v in verifiers for i in issuers_of(v)))


def _nested(raw: Mapping[str, Any], path: str | tuple[str, ...]) -> Any:
    """The claim at ``path`` (a name, or names into nested objects); ``None`` if absent."""
    value: Any = raw
    for name in path if isinstance(path, tuple) else (path,):
        if not isinstance(value, Mapping):
            return None
        value = value.get(name)
    return value


def _template_of(issuer: str, templates: Iterable[str]) -> str:
    """The template among ``templates`` that ``issuer`` fills with a tenant id, or ``""``."""
    for template in templates:
        head, _, tail = template.partition(TENANT_PLACEHOLDER)
        if (
            len(issuer) > len(head) + len(tail)
            and issuer.startswith(head)
            and issuer.endswith(tail)
            and is_tenant_id(issuer[len(head) : len(issuer) - len(tail)])
        ):
            return template
    return ""


def _sync_side(verifier: object, option: str) -> SyncVerifier:
    """``verifier`` as a :class:`~okta_bearer.SyncVerifier`, for a router's ``verify_sync``.

    Checked at the first sync use, not at construction: an ASGI app may
    route to verifiers that have no sync side.

    Raises:
        ConfigurationError: naming ``option`` and the verifier, when it has no ``verify_sync``.
    """
    if not isinstance(verifier, SyncVerifier):
        issuers = ", ".join(issuers_of(verifier)) or "no issuer"
        raise ConfigurationError(
            f"{option}: {type(verifier).__name__} ({issuers}) has no verify_sync/close, "
            "so it cannot serve a sync (WSGI) driver"
        )
    return verifier


def _close_all(*verifiers: object) -> None:
    """Close the sync side of each verifier that has one (``close``)."""
    for verifier in verifiers:
        close = getattr(verifier, "close", None)
        if callable(close):
            close()


def _warm_up_sync(*verifiers: object) -> list[str]:
    """Warm every verifier that has a ``warm_up_sync()`` method, in turn; the problems found."""
    problems: list[str] = []
    for verifier in verifiers:
        method = getattr(verifier, "warm_up_sync", None)
        if callable(method):
            problems.extend(str(problem) for problem in method())
    return problems


def _issuers_routed_to(verifier: object) -> tuple[str, ...]:
    # A verifier names its one ``issuer``, or, routing to others itself (a
    # TokenShapeVerifier, another MultiIssuerVerifier), its ``accepted_issuers``.
    issuers = issuers_of(verifier)
    if not issuers:
        raise ConfigurationError(
            "verifiers: each verifier needs an 'issuer' string attribute "
            "(or 'accepted_issuers', as TokenShapeVerifier has)"
        )
    return issuers


@checked_options
class MultiIssuerVerifier:
    """Verify tokens from several configured issuers, each with its own verifier.

    Args:
        verifiers: one per issuer, each with its own audience, algorithms, key
            policy (a :class:`~okta_bearer.TokenVerifier`) or introspection
            client (an :class:`IntrospectionVerifier`); each must expose
            ``issuer``, or ``accepted_issuers`` as a :class:`TokenShapeVerifier`
            does (it is then chosen for each of them, e.g. an Okta org
            authorization server whose JWTs must be introspected).  Issuers are
            compared exactly.
        profiles: a :class:`TokenProfile` per issuer URL; without one, claims
            are read as :class:`~okta_bearer.Claims` reads them (``scp`` else
            ``scope``, ``cid`` else ``client_id``).  With a profile, scopes are
            checked here after the profile is applied, so give required scopes
            to this verifier (or the route) rather than to the inner verifier.
        opaque: the verifier for tokens that are not JWTs (they carry no
            readable ``iss``), e.g. one issuer's introspection; without it
            such tokens are refused.
        required_scopes: scopes every token must hold.

    Raises:
        ConfigurationError: no verifier, two for one issuer, or a profile for
            an issuer that is not configured.
    """

    def __init__(
        self,
        verifiers: Iterable[Verifier],
        *,
        profiles: Mapping[str, TokenProfile] | None = None,
        opaque: Verifier | None = None,
        required_scopes: Iterable[str] = (),
    ) -> None:
        routes: dict[str, Verifier] = {}
        for verifier in verifiers:
            if not isinstance(verifier, Verifier):
                raise ConfigurationError("verifiers: each must implement okta_bearer.Verifier")
            for issuer in _issuers_routed_to(verifier):
                if issuer in routes:
                    raise ConfigurationError(f"verifiers: two verifiers for issuer {issuer!r}")
                routes[issuer] = verifier
        if not routes:
            raise ConfigurationError("verifiers must hold at least one verifier")
        profiles = dict(profiles or {})
        for issuer, profile in profiles.items():
            if issuer not in routes:
                raise ConfigurationError(f"profiles: {issuer!r} is not a configured issuer")
            if not isinstance(profile, TokenProfile):
                raise ConfigurationError("profiles: values must be TokenProfile instances")
        if opaque is not None and not isinstance(opaque, Verifier):
            raise ConfigurationError("opaque must implement okta_bearer.Verifier")
        if isinstance(required_scopes, str):
            raise ConfigurationError("required_scopes must be a list of scopes, not one string")
        self.issuers = tuple(routes)
        self.required_scopes = tuple(required_scopes)
        self._routes = routes
        self._templates = tuple(i for i in routes if TENANT_PLACEHOLDER in i)
        self._profiles = profiles
        self._opaque = opaque

    @property
    def accepted_issuers(self) -> tuple[str, ...]:
        """The configured issuers, then the ``opaque`` verifier's (see :func:`issuers_of`)."""
        return _joined(*self._routes.values(), self._opaque)

    def verifier_for(self, issuer: str) -> Verifier | None:
        """The verifier configured for ``issuer`` (exact match), if any.

        A verifier whose issuer is a multi-tenant template (``{tenantid}``,
        Microsoft Entra ID) is chosen for an ``iss`` that is the template with
        a tenant id in it; that verifier then checks the ``tid`` and ``iss``.
        """
        found = self._routes.get(issuer)
        if found is None:
            found = self._routes.get(_template_of(issuer, self._templates))
        return found

    async def verify(self, token: str, required_scopes: Iterable[str] = ()) -> Claims:
        """Route ``token`` by its unverified ``iss`` and verify it there.

        Sender-constrained tokens come back with their ``Claims.binding``:
        a caller that got the token without a proof calls
        :func:`okta_bearer.check_bearer` (see ``TokenVerifier.verify``).

        Raises:
            InvalidToken: reason ``unknown_issuer`` for an ``iss`` not
                configured (no network call is made), ``missing_claim``
                without one, or whatever the chosen verifier raises.
            InsufficientScope, KeysUnavailable: from the chosen verifier.
        """
        _, verifier, profile, scopes = self._route(token, required_scopes)
        if profile is None:
            return await verifier.verify(token, scopes)
        return self._profiled(profile, await verifier.verify(token), scopes)

    def verify_sync(self, token: str, required_scopes: Iterable[str] = ()) -> Claims:
        """:meth:`verify`, blocking the calling thread: the chosen verifier's ``verify_sync``.

        Raises:
            ConfigurationError: the chosen verifier has no ``verify_sync``
                (naming it; checked on first use).
            InvalidToken, InsufficientScope, KeysUnavailable: as :meth:`verify`.
        """
        option, verifier, profile, scopes = self._route(token, required_scopes)
        side = _sync_side(verifier, option)
        if profile is None:
            return side.verify_sync(token, scopes)
        return self._profiled(profile, side.verify_sync(token), scopes)

    def _route(
        self, token: object, required_scopes: Iterable[str]
    ) -> tuple[str, Verifier, TokenProfile | None, tuple[str, ...]]:
        """The verifier for ``token`` (and its option name), its profile, and the scopes asked."""
        scopes = (*self.required_scopes, *required_scopes)
        if not isinstance(token, str):
            raise InvalidToken("malformed", "Token is malformed")
        if not is_jwt_shaped(token):
            if self._opaque is None:
                raise InvalidToken("malformed", "Token is malformed")
            return "opaque", self._opaque, None, scopes
        issuer = unverified_issuer(token)
        verifier = self.verifier_for(issuer)
        if verifier is None:
            raise InvalidToken(
                "unknown_issuer",
                "Token issuer is not trusted",
                {"expected": " ".join(self.issuers), "got": issuer[:200]},
            )
        profile = self._profiles.get(issuer) or self._profiles.get(
            _template_of(issuer, self._templates)
        )
        return "verifiers", verifier, profile, scopes

    @staticmethod
    def _profiled(profile: TokenProfile, claims: Claims, scopes: tuple[str, ...]) -> Claims:
        claims = profile.apply(claims)
        if scopes:
            check_scopes(claims, scopes)
        return claims

    async def warm_up(self) -> list[str]:
        """Warm every configured verifier (and ``opaque``) at once; the problems found."""
        return await warm_up(*self._routes.values(), *([self._opaque] if self._opaque else []))

    def warm_up_sync(self) -> list[str]:
        """:meth:`warm_up` for a sync (WSGI) app: each verifier's ``warm_up_sync``, in turn."""
        return _warm_up_sync(*self._all())

    def _all(self) -> tuple[Verifier, ...]:
        return (*dict.fromkeys(self._routes.values()), *([self._opaque] if self._opaque else []))

    async def aclose(self) -> None:
        """Close every configured verifier."""
        for verifier in (*self._routes.values(), *([self._opaque] if self._opaque else [])):
            await verifier.aclose()

    def close(self) -> None:
        """Close the sync side of every configured verifier (its ``close``)."""
        _close_all(*self._all())

    def __enter__(self) -> MultiIssuerVerifier:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    async def __aenter__(self) -> MultiIssuerVerifier:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


@checked_options
class TokenShapeVerifier:
    """Verify JWTs locally and introspect every other token.

    Args:
        jwt: judges JWT-shaped tokens (a :class:`~okta_bearer.TokenVerifier`
            or a :class:`MultiIssuerVerifier`).
        opaque: judges the rest (an :class:`IntrospectionVerifier`).
        introspect_jwts: send JWTs to ``opaque`` as well, e.g. for Okta's org
            authorization server, whose keys are not for resource servers, or
            when revocation must be seen before ``exp``.
    """

    def __init__(self, jwt: Verifier, opaque: Verifier, *, introspect_jwts: bool = False) -> None:
        if not isinstance(jwt, Verifier) or not isinstance(opaque, Verifier):
            raise ConfigurationError("jwt and opaque must implement okta_bearer.Verifier")
        self._jwt = jwt
        self._opaque = opaque
        self._introspect_jwts = bool(introspect_jwts)

    @property
    def accepted_issuers(self) -> tuple[str, ...]:
        """The issuers of both verifiers (only ``opaque``'s with ``introspect_jwts``)."""
        if self._introspect_jwts:
            return issuers_of(self._opaque)
        return _joined(self._jwt, self._opaque)

    async def verify(self, token: str, required_scopes: Iterable[str] = ()) -> Claims:
        """Verify ``token`` with the verifier its shape calls for."""
        return await self._route(token)[1].verify(token, required_scopes)

    def verify_sync(self, token: str, required_scopes: Iterable[str] = ()) -> Claims:
        """:meth:`verify`, blocking the calling thread: the chosen verifier's ``verify_sync``.

        Raises:
            ConfigurationError: the chosen verifier (``jwt`` or ``opaque``) has
                no ``verify_sync`` (naming it; checked on first use).
        """
        option, verifier = self._route(token)
        return _sync_side(verifier, option).verify_sync(token, required_scopes)

    def _route(self, token: object) -> tuple[str, Verifier]:
        if not self._introspect_jwts and isinstance(token, str) and is_jwt_shaped(token):
            return "jwt", self._jwt
        return "opaque", self._opaque

    async def warm_up(self) -> list[str]:
        """Warm both verifiers at once; the problems found."""
        return await warm_up(self._jwt, self._opaque)

    def warm_up_sync(self) -> list[str]:
        """:meth:`warm_up` for a sync (WSGI) app: each verifier's ``warm_up_sync``, in turn."""
        return _warm_up_sync(self._jwt, self._opaque)

    async def aclose(self) -> None:
        """Close both verifiers."""
        await self._jwt.aclose()
        await self._opaque.aclose()

    def close(self) -> None:
        """Close the sync side of both verifiers (their ``close``)."""
        _close_all(self._jwt, self._opaque)

    def __enter__(self) -> TokenShapeVerifier:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    async def __aenter__(self) -> TokenShapeVerifier:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
