"""The verified claims of an access token, as an immutable value."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any, cast

from .binding import DPOP_KEY, binding_of

__all__ = ["Claims", "scopes_of"]

_STR_TYPE = frozenset({str})
_NO_SCOPES: frozenset[str] = frozenset()
_UTC = UTC
_from_timestamp = datetime.fromtimestamp


def _split(scope: str) -> frozenset[str]:
    # RFC 6749 section 3.3: scope tokens are separated by the space character
    # (%x20) only; a tab or newline is part of a (then unmatchable) token.
    return frozenset(scope.split(" ")).difference(("",))


def scopes_of(payload: Mapping[str, Any]) -> frozenset[str] | None:
    """Return the scopes a token grants, or ``None`` when the claim is malformed.

    Okta puts them in ``scp`` as a list of strings; RFC 9068 puts them in
    ``scope`` as one space-separated string.  Precedence: ``scp`` when present
    (a string is tolerated there and split like ``scope``), else ``scope``.
    No scope claim grants nothing.  A list with a non-string member, or a
    ``scope`` that is not a string, is malformed: validation refuses such a
    token as ``invalid_token`` (401), not as a missing scope (403).
    """
    value = payload.get("scp")
    if value is None:
        value = payload.get("scope")
        if value is None:
            return _NO_SCOPES
        return _split(value) if isinstance(value, str) else None
    if isinstance(value, str):
        return _split(value)
    # Decoded JSON holds exact str objects: checking their types at C speed comes
    # first, and anything else (a str subclass, say) gets the full check.
    if isinstance(value, list) and (
        set(map(type, value)) <= _STR_TYPE or all(isinstance(item, str) for item in value)
    ):
        return frozenset(value)
    return None


class FrozenDict(dict[str, Any]):
    """A ``dict`` that refuses changes: nested JSON objects inside :attr:`Claims.raw`.

    It stays a ``dict`` so that ``json.dumps`` and FastAPI serialise it as is.
    """

    __slots__ = ()

    def _refuse(self, *args: object, **kwargs: object) -> Any:
        raise TypeError("token claims are read-only")

    __setitem__ = __delitem__ = __ior__ = _refuse
    clear = pop = popitem = setdefault = update = _refuse

    def __copy__(self) -> dict[str, Any]:
        return dict(self)

    def __deepcopy__(self, memo: dict[int, Any]) -> dict[str, Any]:
        import copy

        return {k: copy.deepcopy(v, memo) for k, v in self.items()}


def _freeze(value: Any) -> Any:
    # Nested containers become immutable, so claims shared through the
    # verified-token cache cannot be changed by one request for the next.
    kind = type(value)
    if kind is list:
        # The common case (scp, aud, groups): a list of scalars, frozen at C speed.
        if _CONTAINERS.isdisjoint(map(type, value)):
            return tuple(value)
        return tuple(map(_freeze, value))
    if kind is dict:
        return FrozenDict({k: _freeze(v) for k, v in value.items()})
    return value


_CONTAINERS = frozenset({list, dict})


def _as_datetime(value: object) -> datetime | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return _from_timestamp(value, _UTC)
    return None


@dataclass(frozen=True, slots=True)
class Claims:
    """Verified claims of one access token.

    Attributes:
        sub: subject (the user's login for Okta user tokens, the client id for
            client-credentials tokens).
        scopes: granted scopes, from ``scp`` or ``scope``.
        client_id: Okta's ``cid``, else RFC 9068's ``client_id``.
        uid: Okta user id, ``None`` for client-credentials tokens.
        issuer: ``iss``.
        audience: ``aud`` as a tuple (a string ``aud`` becomes a 1-tuple; empty
            without ``aud``, which only a verifier built with ``audience=None``
            accepts).
        expires_at: ``exp`` as an aware UTC datetime.
        issued_at: ``iat`` as an aware UTC datetime, if present.
        jti: token id, if present.
        raw: every claim of the token, read-only all the way down (JSON arrays
            are tuples, nested objects read-only dicts).
        binding: how the token is sender-constrained: ``None`` for a bearer
            token, ``"jkt"`` for a DPoP key (``cnf.jkt``, RFC 9449 section 6),
            ``"uncheckable"`` for a binding this library cannot check (another
            ``cnf`` member such as ``x5t#S256``, or an introspection answer's
            ``token_type: DPoP`` without ``cnf.jkt``).  A token with a binding
            is never accepted as a bearer token: see
            :func:`okta_bearer.check_bearer`.
    """

    sub: str | None
    scopes: frozenset[str]
    client_id: str | None
    uid: str | None
    issuer: str
    audience: tuple[str, ...]
    expires_at: datetime
    issued_at: datetime | None
    jti: str | None
    raw: Mapping[str, Any]
    #: Left out (``""``), it is read from ``raw``: claims built by hand bind too.
    binding: str | None = ""

    def __post_init__(self) -> None:
        if self.binding == "":
            object.__setattr__(self, "binding", binding_of(self.raw))

    @property
    def jkt(self) -> str | None:
        """The DPoP key thumbprint the token is bound to (``cnf.jkt``, RFC 9449 section 6)."""
        if self.binding != DPOP_KEY:
            return None
        jkt: str = self.raw["cnf"]["jkt"]
        return jkt

    @classmethod
    def from_payload(cls, payload: dict[str, Any], scopes: frozenset[str] | None = None) -> Claims:
        """Build claims from an already validated payload.

        The caller guarantees ``iss`` is a string, ``aud`` a string or list of
        strings (or absent when no audience is checked), ``exp`` a number and
        the scope claims well-formed; other claims are read leniently.
        ``payload`` is frozen in place.
        """
        # On every fresh token's path: string claims are checked inline, only
        # containers are replaced (frozen), and the instance is filled by
        # plain slot stores (see _Unfrozen).
        get = payload.get
        aud = get("aud")  # absent only where the policy checks no audience (Cognito)
        sub, cid, uid, jti, iat = get("sub"), get("cid"), get("uid"), get("jti"), get("iat")
        if not (isinstance(cid, str) and cid):
            cid = get("client_id")
        if scopes is None:
            scopes = scopes_of(payload)
            assert scopes is not None  # guaranteed by validation
        for name, value in payload.items():
            if type(value) in _CONTAINERS:
                payload[name] = _freeze(value)  # the same key: the dict keeps its size
        values = (
            sub if isinstance(sub, str) else None,
            scopes,
            cid if isinstance(cid, str) else None,
            uid if isinstance(uid, str) else None,
            payload["iss"],
            (aud,) if isinstance(aud, str) else () if aud is None else tuple(aud),
            _from_timestamp(payload["exp"], _UTC),  # a number: validated
            None if iat is None else _as_datetime(iat),
            jti if isinstance(jti, str) else None,
            MappingProxyType(payload),
            binding_of(payload),
        )
        if cls is not Claims:  # a subclass may add fields: the dataclass way
            return cls(*values)
        claims: Any = _Unfrozen()
        (
            claims.sub,
            claims.scopes,
            claims.client_id,
            claims.uid,
            claims.issuer,
            claims.audience,
            claims.expires_at,
            claims.issued_at,
            claims.jti,
            claims.raw,
            claims.binding,
        ) = values
        claims.__class__ = Claims
        return cast(Claims, claims)


class _Unfrozen:
    """:class:`Claims`' slots without its frozen ``__setattr__``.

    A frozen dataclass sets each field through ``object.__setattr__`` (a
    quarter of a fresh token's Python work).  :meth:`Claims.from_payload`
    fills this twin with plain slot stores and then makes it a ``Claims``:
    both have exactly the same slots, so the instance layout is the same and
    ``__class__`` may change.  From then on it is a frozen ``Claims`` like any
    other (equality, ``repr``, ``FrozenInstanceError``).
    """

    __slots__ = Claims.__slots__
