"""Authentication context and audience on ``/v1/authorize`` and ``/v1/token``.

``acr_values`` and ``max_age`` (OpenID Connect Core 3.1.2.1) ask for a sign-in
of a given class or recency; the dev issuer re-authenticates when the session
does not satisfy them, which is what an RFC 9470 step-up needs.  ``resource``
(RFC 8707) names the API a token is for; it becomes the token's ``aud``.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlsplit

from ._models import AuthError, AuthRequest, Session

#: A password sign-in, as Okta names it.
ACR_ONE_FACTOR = "urn:okta:loa:1fa:pwd"
#: Okta's "any two factors" class.  The dev issuer *records* it after a password
#: sign-in when a client asks for it; it performs no second factor.
ACR_TWO_FACTOR = "urn:okta:loa:2fa:any"
ACR_VALUES_SUPPORTED = (ACR_ONE_FACTOR, ACR_TWO_FACTOR)


def parse_acr_values(one: Mapping[str, str]) -> tuple[str, ...]:
    """The requested ``acr_values`` that this issuer supports, in the client's order.

    Raises:
        AuthError: values were requested and none is supported.
    """
    requested = tuple(dict.fromkeys(one.get("acr_values", "").split()))
    supported = tuple(v for v in requested if v in ACR_VALUES_SUPPORTED)
    if requested and not supported:
        raise AuthError(
            "invalid_request",
            "None of the acr_values is supported; supported: " + " ".join(ACR_VALUES_SUPPORTED),
        )
    return supported


def parse_max_age(one: Mapping[str, str]) -> int | None:
    """``max_age`` in seconds (a non-negative integer), or ``None``.

    Raises:
        AuthError: the value is not a non-negative decimal integer.
    """
    raw = one.get("max_age")
    if raw is None or raw == "":
        return None
    if not raw.isascii() or not raw.isdigit() or len(raw) > 10:
        raise AuthError("invalid_request", "max_age must be a non-negative integer.")
    return int(raw)


def parse_resource(value: str | None) -> str | None:
    """A checked RFC 8707 resource indicator, or ``None`` when absent.

    Raises:
        AuthError: ``invalid_target`` for a relative URI or one with a
            fragment (RFC 8707 section 2).
    """
    if value is None:
        return None
    try:
        parts = urlsplit(value)
    except ValueError:
        parts = None
    if (
        parts is None
        or parts.scheme not in ("http", "https")
        or not parts.netloc
        or "#" in value
        or any(c.isspace() for c in value)
    ):
        raise AuthError(
            "invalid_target", "The resource must be an absolute URI without a fragment."
        )
    return value


def needs_sign_in(session: Session | None, auth: AuthRequest, now: float) -> bool:
    """Whether the user must (re-)authenticate before ``auth`` can be answered."""
    if session is None or "login" in auth.prompt:
        return True
    if auth.max_age is not None and now - session.auth_time > auth.max_age:
        return True
    return bool(auth.acr_values) and session.acr not in auth.acr_values


def acr_after_sign_in(auth: AuthRequest) -> str:
    """The ``acr`` recorded for a sign-in answering ``auth``: the first requested one."""
    return auth.acr_values[0] if auth.acr_values else ACR_ONE_FACTOR
