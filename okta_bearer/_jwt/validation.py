"""Claim checks: a pure function of (payload, policy, now), no I/O, no hidden clock."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from .._errors import InsufficientScope, InvalidToken
from .claims import Claims, scopes_of

__all__ = ["Policy", "check_scopes", "validate_claims"]


@dataclass(frozen=True, slots=True)
class Policy:
    """What a token must satisfy, compiled once by :class:`TokenVerifier`.

    ``client_ids`` of ``None`` means any client is accepted.  ``audiences``
    of ``None`` means ``aud`` is not checked, which the verifier allows only
    together with ``client_ids`` (Amazon Cognito's access tokens have no
    ``aud``).  ``tenants`` turns ``issuer`` into a template holding
    :data:`TENANT_PLACEHOLDER` (Microsoft Entra ID multi-tenant apps): the
    token's ``tid`` fills it in, and must be listed unless ``any_tenant``.
    """

    issuer: str
    audiences: frozenset[str] | None
    leeway: float
    max_token_age: float | None = None
    client_ids: frozenset[str] | None = None
    tenants: frozenset[str] | None = None
    any_tenant: bool = False


#: The part of a multi-tenant issuer URL that the token's ``tid`` fills in,
#: spelt as in Microsoft Entra ID's ``common`` metadata document.
TENANT_PLACEHOLDER = "{tenantid}"

# Entra tenant ids are GUIDs, written in lower case in iss and tid.
_TENANT_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def is_tenant_id(value: object) -> bool:
    """Whether ``value`` is a tenant id as Entra writes it: a lower-case GUID."""
    return isinstance(value, str) and _TENANT_ID.fullmatch(value) is not None


# datetime's range, 0001-01-01T00:00:00Z .. 9999-12-31T23:59:59Z, as epoch seconds.
_MIN_NUMERIC_DATE = -62_135_596_800
_MAX_NUMERIC_DATE = 253_402_300_799


def numeric_date(value: object) -> float | None:
    """``value`` when it is a usable time in seconds (RFC 7519 NumericDate), else ``None``.

    A JSON number from outside: a bool, a string, NaN or an infinity is not
    one, nor is a number outside datetime's years 1-9999 (a 400-digit integer
    would overflow float arithmetic and ``datetime``: malformed, not a 500).
    Comparing an int with a float is exact in Python, so the range check
    itself cannot overflow.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    # False for NaN and both infinities as well.
    if not _MIN_NUMERIC_DATE <= value <= _MAX_NUMERIC_DATE:
        return None
    return value


def _number(payload: dict[str, Any], name: str, *, required: bool) -> float | None:
    # RFC 7519 section 2: NumericDate is a JSON number.  Strings and booleans are
    # rejected rather than coerced; NaN, infinities and out-of-range values too.
    value = payload.get(name)
    if type(value) is int and _MIN_NUMERIC_DATE <= value <= _MAX_NUMERIC_DATE:
        return value  # the common case, without a call
    if value is None:
        if required:
            raise InvalidToken("missing_claim", f"Token has no '{name}' claim")
        return None
    checked = numeric_date(value)
    if checked is None:
        raise InvalidToken("bad_claim", f"Token '{name}' claim is not a usable number")
    return checked


def _shown(value: object) -> str:
    # For logs only: a claim of a signature-verified token, shortened, so an
    # operator can compare it with the configuration (never the token itself).
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= 200 else text[:200] + "..."


def validate_claims(payload: dict[str, Any], policy: Policy, now: float) -> Claims:
    """Check a signature-verified payload against ``policy`` at time ``now``.

    Scopes are not checked here: a token lacking a scope is still a valid
    token (403, not 401), so :func:`check_scopes` runs separately.

    Raises:
        InvalidToken: with a reason code naming the first failed check.
    """
    # RFC 9068 section 4: the issuer must match exactly (no slash normalisation).
    iss = payload.get("iss")
    if iss is None:
        raise InvalidToken("missing_claim", "Token has no 'iss' claim")
    expected = policy.issuer if policy.tenants is None else _expected_issuer(payload, policy)
    if iss != expected:
        raise InvalidToken(
            "bad_issuer",
            "Token issuer is not trusted",
            {"expected": expected, "got": _shown(iss)},
        )
    audiences = policy.audiences
    if audiences is not None:
        aud = payload.get("aud")
        # The common case inline: one string naming this API.
        if type(aud) is not str or aud not in audiences:
            _check_audience(payload, audiences)
    elif "aud" in payload and not _is_audience(payload["aud"]):
        # Not compared, but still read into Claims.audience: a string or a list of them.
        raise InvalidToken("bad_claim", "Token 'aud' claim is malformed")

    # RFC 9068 section 2.2 makes exp mandatory; RFC 7519 section 4.1.4: the
    # current time must be *before* exp, so exp == now is already expired.
    leeway = policy.leeway
    exp = _number(payload, "exp", required=True)
    assert exp is not None
    if now >= exp + leeway:
        raise InvalidToken("expired", "Token has expired")

    nbf = _number(payload, "nbf", required=False)
    if nbf is not None:
        if nbf > exp:
            raise InvalidToken("bad_lifetime", "Token lifetime is invalid")
        if nbf > now + leeway:
            raise InvalidToken("not_yet_valid", "Token is not valid yet")

    iat = _number(payload, "iat", required=policy.max_token_age is not None)
    if iat is not None:
        if iat > now + leeway:
            raise InvalidToken("issued_in_future", "Token was issued in the future")
        if policy.max_token_age is not None and now - iat > policy.max_token_age + leeway:
            raise InvalidToken("too_old", "Token is too old")

    # A scope claim of the wrong shape is a malformed token (401), not a token
    # that lacks a scope (403): RFC 9068 section 2.2.3, Okta's 'scp' list.
    scopes = scopes_of(payload)
    if scopes is None:
        raise InvalidToken("bad_claim", "Token scope claim is malformed")

    # Okta puts the client in 'cid'; RFC 9068 in 'client_id'.
    if policy.client_ids is not None:
        cid = payload.get("cid", payload.get("client_id"))
        if not isinstance(cid, str) or cid not in policy.client_ids:
            raise InvalidToken(
                "bad_client",
                "Token client is not accepted",
                {"expected": " ".join(sorted(policy.client_ids)), "got": _shown(cid)},
            )

    return Claims.from_payload(payload, scopes)


def _expected_issuer(payload: dict[str, Any], policy: Policy) -> str:
    """The issuer a token must name under a multi-tenant template: the template
    with the token's own ``tid`` in it (Microsoft's multi-tenant rule: ``iss``
    must be the issuer of the tenant the token says it comes from)."""
    assert policy.tenants is not None  # a plain issuer is read by validate_claims itself
    tid = payload.get("tid")
    if tid is None:
        raise InvalidToken("missing_claim", "Token has no 'tid' claim")
    if not is_tenant_id(tid):
        raise InvalidToken("bad_claim", "Token 'tid' claim is malformed")
    assert isinstance(tid, str)
    if not policy.any_tenant and tid not in policy.tenants:
        raise InvalidToken(
            "bad_issuer",
            "Token issuer is not trusted",
            {"expected": "tenants " + " ".join(sorted(policy.tenants)), "got": tid},
        )
    return policy.issuer.replace(TENANT_PLACEHOLDER, tid)


def _is_audience(aud: object) -> bool:
    return isinstance(aud, str) or (isinstance(aud, list) and all(isinstance(a, str) for a in aud))


def _check_audience(payload: dict[str, Any], audiences: frozenset[str]) -> None:
    # RFC 9068 section 4 / RFC 9700 section 2.3: the audience must name this API.
    aud = payload.get("aud")
    if aud is None:
        raise InvalidToken("missing_claim", "Token has no 'aud' claim")
    if not _is_audience(aud):
        raise InvalidToken("bad_claim", "Token 'aud' claim is malformed")
    matched = aud in audiences if isinstance(aud, str) else not audiences.isdisjoint(aud)
    if not matched:
        raise InvalidToken(
            "bad_audience",
            "Token audience is not accepted",
            {"expected": " ".join(sorted(audiences)), "got": _shown(aud)},
        )


def check_scopes(claims: Claims, required: Iterable[str]) -> None:
    """Raise :class:`InsufficientScope` unless ``claims`` hold every required scope.

    Comparison is exact and case-sensitive (RFC 6749 section 3.3).
    """
    required = tuple(required)
    if not claims.scopes.issuperset(required):
        error = InsufficientScope(required, claims.scopes)
        error.claims = claims  # for the binding check that must come first
        raise error
