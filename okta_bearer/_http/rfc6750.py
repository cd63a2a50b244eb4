"""RFC 6750 on the wire: reading ``Authorization: Bearer`` and writing challenges (pure)."""

from __future__ import annotations

import re
from collections.abc import Iterable

from .._errors import BearerError, InsufficientScope, InsufficientUserAuthentication, InvalidRequest

__all__ = ["challenge", "is_quotable", "is_scope_token", "parse_authorization"]

# RFC 6750 section 2.1: b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
# Checked on every request: trailing '=' stripped, deleting these characters
# (one C pass) must leave nothing; a regex costs more than the verify cache hit.
_B64TOKEN_CHARS = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~+/"
# RFC 6750 section 3: error_description and realm use %x20-21 / %x23-5B / %x5D-7E.
_UNSAFE_TEXT = re.compile(r"[^\x20\x21\x23-\x5b\x5d-\x7e]")
# RFC 6749 section 3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
_SCOPE_TOKEN = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]+")


def parse_authorization(values: list[bytes]) -> str | None:
    """Return the bearer token from the ``Authorization`` header values.

    ``values`` holds every ``Authorization`` header of the request, raw.

    Returns:
        The token, or ``None`` when the request carries no bearer credentials
        (no header, or another scheme such as ``Basic``: RFC 6750 section 3.1
        answers those with a bare challenge).

    Raises:
        InvalidRequest: two or more ``Authorization`` headers, an empty token,
            or characters outside RFC 6750's ``b64token``.
    """
    if not values:
        return None
    if len(values) > 1:
        raise InvalidRequest("multiple_headers", "Only one Authorization header is allowed")
    try:
        value = values[0].decode("ascii")
    except UnicodeDecodeError as exc:
        raise InvalidRequest("bad_header", "Authorization header is malformed") from exc
    scheme, _, rest = value.partition(" ")
    # The auth-scheme is case-insensitive (RFC 9110 section 11.1).
    if scheme.lower() != "bearer":
        return None
    # 1*SP separates scheme and credentials; surrounding whitespace is not part of it.
    token = rest.strip(" \t")
    if not token:
        raise InvalidRequest("empty_token", "Bearer token is empty")
    body = token.encode("ascii").rstrip(b"=")
    if not body or body.translate(None, _B64TOKEN_CHARS):
        raise InvalidRequest("bad_header", "Authorization header is malformed")
    return token


def is_scope_token(scope: str) -> bool:
    """Whether ``scope`` is a valid RFC 6749 scope-token (emittable in a challenge)."""
    return _SCOPE_TOKEN.fullmatch(scope) is not None


def is_quotable(text: str) -> bool:
    """Whether ``text`` fits inside an RFC 6750 quoted ``realm`` or ``error_description`` as is."""
    return _UNSAFE_TEXT.search(text) is None


def _quote(text: str) -> str:
    return _UNSAFE_TEXT.sub("'", text)


def challenge(
    error: BearerError | None,
    *,
    realm: str | None,
    details: bool = True,
    resource_metadata: str | None = None,
    scopes: Iterable[str] = (),
) -> str:
    """Build the ``WWW-Authenticate`` value for ``error``.

    With ``error`` of ``None`` (or an error without an RFC 6750 code, such as a
    missing token) the challenge is bare: ``Bearer realm="..."``.  With
    ``details=False`` error attributes are left out entirely: RFC 6750 section 3
    makes them optional, and some deployments prefer to reveal nothing.
    ``resource_metadata`` (RFC 9728 section 5.1) is added to every challenge,
    details or not: it is how clients discover the authorization server.
    ``scopes`` are named in a 401's ``scope`` (RFC 6750 section 3) when there
    are any, so a client knows what to ask for; a 403 names the scopes the
    route needs instead, and a step-up 401 (RFC 9470 section 3) its
    ``acr_values`` and ``max_age``.
    """
    parts: list[str] = []
    if realm:
        parts.append(f'realm="{_quote(realm)}"')
    if details and error is not None and error.error is not None and error.status != 503:
        parts.append(f'error="{error.error}"')
        parts.append(f'error_description="{_quote(error.description)}"')
        if isinstance(error, InsufficientScope):
            # Every scope the operation needs, in one parameter: the
            # middleware-wide ones and the route's (RFC 6750 section 3.1).
            scopes = (*scopes, *error.required)
        elif isinstance(error, InsufficientUserAuthentication):
            # A client asking for a stronger sign-in asks for the scopes
            # named here (the MCP client replaces its scopes on a 401), so
            # they are every scope the operation needs, as in a 403.
            scopes = (*scopes, *error.required)
            if error.acr_values:
                parts.append(f'acr_values="{" ".join(error.acr_values)}"')
            if error.max_age is not None:
                parts.append(f'max_age="{error.max_age}"')
    if details and error is not None and error.status in (401, 403):
        scope = _scope_list(scopes)
        if scope:
            parts.append(f'scope="{scope}"')
    if resource_metadata is not None and (error is None or error.status in (401, 403)):
        parts.append(f'resource_metadata="{_quote(resource_metadata)}"')
    return "Bearer " + ", ".join(parts) if parts else "Bearer"


def _scope_list(scopes: Iterable[str]) -> str:
    # RFC 6750 section 3: scope values use the RFC 6749 scope-token characters;
    # a name that cannot be written inside scope="..." is left out, never escaped.
    return " ".join(s for s in dict.fromkeys(scopes) if is_scope_token(s))
