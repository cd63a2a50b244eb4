"""The verified claims of an access token, as an immutable value."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from types import MappingProxyType
from typing import Any

__all__ = ["Claims", "scopes_of"]

_STR_TYPE = frozenset({str})
_NO_SCOPES: frozenset[str] = frozenset()
_UTC = timezone.utc
_from_timestamp = datetime.fromtimestamp


def scopes_of(payload: Mapping[str, Any]) -> frozenset[str]:
    """Return the scopes a token grants.

    Okta puts them in ``scp`` as a list of strings; RFC 9068 puts them in
    ``scope`` as one space-separated string.  Precedence: ``scp`` when present
    (Okta's form, also tolerated as a string), else ``scope`` (also tolerated
    as a list of strings).  A value of any other type grants nothing, so a
    route that requires a scope answers 403 rather than failing (behaviour
    catalog E.78).
    """
    value = payload.get("scp")
    if value is None:
        value = payload.get("scope")
    if isinstance(value, str):
        return frozenset(value.split())
    # Decoded JSON holds exact str objects: checking their types at C speed comes
    # first, and anything else (a str subclass, say) gets the full check.
    if isinstance(value, list) and (
        set(map(type, value)) <= _STR_TYPE or all(isinstance(item, str) for item in value)
    ):
        return frozenset(value)
    return _NO_SCOPES


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
        audience: ``aud`` as a tuple (a string ``aud`` becomes a 1-tuple).
        expires_at: ``exp`` as an aware UTC datetime.
        issued_at: ``iat`` as an aware UTC datetime, if present.
        jti: token id, if present.
        raw: every claim of the token, read-only.
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

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> Claims:
        """Build claims from an already validated payload.

        The caller guarantees ``iss`` is a string, ``aud`` a string or list of
        strings and ``exp`` a number; other claims are read leniently.
        """
        # On every fresh token's path: string claims are checked inline and the
        # construction is positional (no keyword parsing).
        get = payload.get
        aud = payload["aud"]
        expires_at = _as_datetime(payload["exp"])
        assert expires_at is not None  # guaranteed by validation
        sub, cid, uid, jti, iat = get("sub"), get("cid"), get("uid"), get("jti"), get("iat")
        if not (isinstance(cid, str) and cid):
            cid = get("client_id")
        return cls(
            sub if isinstance(sub, str) else None,
            scopes_of(payload),
            cid if isinstance(cid, str) else None,
            uid if isinstance(uid, str) else None,
            payload["iss"],
            (aud,) if isinstance(aud, str) else tuple(aud),
            expires_at,
            None if iat is None else _as_datetime(iat),
            jti if isinstance(jti, str) else None,
            MappingProxyType(payload),
        )
