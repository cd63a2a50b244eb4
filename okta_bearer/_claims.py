"""The verified claims of an access token, as an immutable value."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from types import MappingProxyType
from typing import Any

__all__ = ["Claims", "scopes_of"]


def scopes_of(payload: Mapping[str, Any]) -> frozenset[str]:
    """Return the scopes a token grants.

    Okta puts them in ``scp`` as a list of strings; RFC 9068 puts them in
    ``scope`` as one space-separated string.  Precedence: ``scp`` when present
    (Okta's form, also tolerated as a string), else ``scope``.  A value of any
    other type grants nothing, so a route that requires a scope answers 403
    rather than failing (behaviour catalog E.78).
    """
    value = payload.get("scp")
    if value is None:
        value = payload.get("scope")
    if isinstance(value, str):
        return frozenset(value.split())
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return frozenset(value)
    return frozenset()


def _as_datetime(value: object) -> datetime | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, tz=timezone.utc)
    return None


def _as_str(value: object) -> str | None:
    return value if isinstance(value, str) else None


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
        aud = payload["aud"]
        expires_at = _as_datetime(payload["exp"])
        assert expires_at is not None  # guaranteed by validation
        return cls(
            sub=_as_str(payload.get("sub")),
            scopes=scopes_of(payload),
            client_id=_as_str(payload.get("cid")) or _as_str(payload.get("client_id")),
            uid=_as_str(payload.get("uid")),
            issuer=payload["iss"],
            audience=(aud,) if isinstance(aud, str) else tuple(aud),
            expires_at=expires_at,
            issued_at=_as_datetime(payload.get("iat")),
            jti=_as_str(payload.get("jti")),
            raw=MappingProxyType(payload),
        )
