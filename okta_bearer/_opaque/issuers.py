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
from .._protocols import Verifier, warm_up

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


def _issuer_of(verifier: object) -> str:
    issuer = getattr(verifier, "issuer", None)
    if not isinstance(issuer, str) or not issuer:
        raise ConfigurationError("verifiers: each verifier needs an 'issuer' string attribute")
    return issuer


@checked_options
class MultiIssuerVerifier:
    """Verify tokens from several configured issuers, each with its own verifier.

    Args:
        verifiers: one per issuer, each with its own audience, algorithms, key
            policy (a :class:`~okta_bearer.TokenVerifier`) or introspection
            client (an :class:`IntrospectionVerifier`); each must expose
            ``issuer``.  Issuers are compared exactly.
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
            issuer = _issuer_of(verifier)
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
        scopes = (*self.required_scopes, *required_scopes)
        if not isinstance(token, str):
            raise InvalidToken("malformed", "Token is malformed")
        if not is_jwt_shaped(token):
            if self._opaque is None:
                raise InvalidToken("malformed", "Token is malformed")
            return await self._opaque.verify(token, scopes)
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
        if profile is None:
            return await verifier.verify(token, scopes)
        claims = profile.apply(await verifier.verify(token))
        if scopes:
            check_scopes(claims, scopes)
        return claims

    async def warm_up(self) -> list[str]:
        """Warm every configured verifier (and ``opaque``) at once; the problems found."""
        return await warm_up(*self._routes.values(), *([self._opaque] if self._opaque else []))

    async def aclose(self) -> None:
        """Close every configured verifier."""
        for verifier in (*self._routes.values(), *([self._opaque] if self._opaque else [])):
            await verifier.aclose()

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
        if not self._introspect_jwts and isinstance(token, str) and is_jwt_shaped(token):
            return await self._jwt.verify(token, required_scopes)
        return await self._opaque.verify(token, required_scopes)

    async def warm_up(self) -> list[str]:
        """Warm both verifiers at once; the problems found."""
        return await warm_up(self._jwt, self._opaque)

    async def aclose(self) -> None:
        """Close both verifiers."""
        await self._jwt.aclose()
        await self._opaque.aclose()

    async def __aenter__(self) -> TokenShapeVerifier:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
