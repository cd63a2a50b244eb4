"""The HTTP answer to every refusal, built from a :class:`BearerError` (pure).

One function, :func:`error_response`, turns an error and the deployment's
:class:`ChallengeSettings` into a status, headers and a JSON body.  The
middleware, the FastAPI integration and the dev issuer all answer through it,
so a 401 looks the same wherever it comes from.

Shape of every answer (RFC 6750 section 3):

* 400/401/403: ``WWW-Authenticate`` carries the challenge; with details on it
  names ``error`` and ``error_description`` (and ``scope`` for a 403).
* 503: no challenge (the token was not judged), ``Retry-After`` instead.
* Always ``Cache-Control: no-store`` and a JSON body whose ``error`` and
  ``error_description`` repeat the challenge; a 403 body also lists the
  ``missing_scope`` (space-separated, as OAuth writes scopes).

Challenge parameters that hold for every answer (the realm today; RFC 9728's
``resource_metadata`` and RFC 9449's ``DPoP algs`` when they come) live in the
settings, which the middleware builds once; per-error parameters come from
the error.  Neither the token nor :attr:`BearerError.context` ever reaches an
answer: the context is for logs.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .._errors import BearerError, ConfigurationError, InsufficientScope, MissingToken
from .rfc6750 import challenge, is_quotable

__all__ = ["ChallengeSettings", "ErrorResponse", "error_body", "error_response"]

Headers = list[tuple[bytes, bytes]]

_JSON = (b"content-type", b"application/json")
_NO_STORE = (b"cache-control", b"no-store")


@dataclass(frozen=True)
class ChallengeSettings:
    """What every challenge of one deployment shares; build it once, at start-up.

    Attributes:
        realm: the ``realm`` auth-param, or ``None`` to leave it out.
        details: send ``error``/``error_description`` (RFC 6750 section 3
            makes them optional); off, challenges and bodies carry no reason.
        resource_metadata: the RFC 9728 metadata URL, named in every 401/403
            challenge (section 5.1), or ``None``.
        scopes: scopes a 401 challenge names so the client knows what to ask
            for (RFC 6750 section 3); a 403 adds the route's own.
    """

    realm: str | None = "api"
    details: bool = True
    resource_metadata: str | None = None
    scopes: tuple[str, ...] = ()
    # The challenge a MissingToken gets never changes: build it once.
    bare_challenge: bytes = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        realm = self.realm
        if realm is not None and (not isinstance(realm, str) or not is_quotable(realm)):
            raise ConfigurationError(
                "realm must be printable ASCII without '\"' or '\\' (RFC 6750 section 3), or None"
            )
        object.__setattr__(self, "bare_challenge", self.challenge(MissingToken()))

    def challenge(self, error: BearerError) -> bytes:
        """The ``WWW-Authenticate`` value answering ``error`` (a 400, 401 or 403)."""
        value = challenge(
            error,
            realm=self.realm,
            details=self.details,
            resource_metadata=self.resource_metadata,
            scopes=self.scopes,
        )
        return value.encode("ascii")


@dataclass(frozen=True)
class ErrorResponse:
    """An HTTP answer: ``status``, raw ASGI ``headers`` and the encoded ``body``."""

    status: int
    headers: Headers
    body: bytes


def error_body(error: BearerError, settings: ChallengeSettings) -> dict[str, Any]:
    """The default JSON body for ``error``: RFC 6750's ``error`` and ``error_description``.

    With details off both are ``None``.  An insufficient-scope body also names
    the ``missing_scope``: the caller holds the token, so it learns nothing it
    could not read from its own scopes and the challenge's ``scope``.
    """
    if not settings.details:
        return {"error": None, "error_description": None}
    body: dict[str, Any] = {"error": error.error, "error_description": error.description}
    if isinstance(error, InsufficientScope):
        body["missing_scope"] = " ".join(error.missing)
    return body


def error_response(
    error: BearerError,
    settings: ChallengeSettings,
    body: Mapping[str, Any] | None = None,
    *,
    challenges: Headers | None = None,
) -> ErrorResponse:
    """The complete answer to ``error``.

    ``body`` replaces the default JSON body (an ``on_error`` hook's result);
    the status, the challenge, ``Retry-After`` and ``Cache-Control`` are never
    the caller's to change, so a custom body cannot weaken the protocol.
    ``challenges`` replaces the single Bearer challenge of a 4xx with ready
    header fields, for a deployment that accepts several schemes (RFC 9449
    section 7.1: ``WWW-Authenticate: Bearer`` and ``DPoP``, plus ``DPoP-Nonce``).
    """
    encoded = json.dumps(error_body(error, settings) if body is None else body).encode()
    headers: Headers = [_JSON, (b"content-length", str(len(encoded)).encode()), _NO_STORE]
    if error.status == 503:
        retry_after = getattr(error, "retry_after", 5)
        headers.append((b"retry-after", str(retry_after).encode()))
    elif challenges is not None:
        headers.extend(challenges)
    elif error.error is None:
        headers.append((b"www-authenticate", settings.bare_challenge))
    else:
        headers.append((b"www-authenticate", settings.challenge(error)))
    return ErrorResponse(error.status, headers, encoded)
