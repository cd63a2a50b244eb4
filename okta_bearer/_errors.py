"""Errors raised while judging a request.

The tree is shallow on purpose; each class carries what the HTTP layer needs::

    BearerError                 base: status, RFC 6750 ``error`` code, ``reason``
    ├── MissingToken            401, no error code (RFC 6750 section 3.1)
    ├── InvalidRequest          400  invalid_request
    ├── InvalidToken            401  invalid_token
    ├── InsufficientScope       403  insufficient_scope (+ the scopes required)
    ├── InsufficientUserAuthentication
    │                           401  insufficient_user_authentication (+ acr_values,
    │                                max_age to ask for, RFC 9470 section 3)
    ├── InvalidDPoPProof        401  invalid_dpop_proof (RFC 9449 section 7.1)
    ├── UseDPoPNonce            401  use_dpop_nonce (+ the nonce to send, RFC 9449 section 9)
    ├── KeysUnavailable         503  no signing key could be obtained (+ retry_after)
    ├── IntrospectionUnavailable
    │                           503  the introspection endpoint cannot answer (+ retry_after)
    └── ReplayCacheUnavailable  503  the DPoP replay store cannot answer (+ retry_after)

    ConfigurationError          a ValueError raised by constructors, naming the option

``reason`` is a short machine-readable code (``"expired"``, ``"bad_audience"``...)
for logs and metrics.  ``description`` is a fixed, short English sentence that
never contains token contents, so it is safe to send as ``error_description``.
``context`` holds what an operator needs to fix a mismatch (``expected`` and
``got`` for an issuer, audience or client refusal; the missing scopes): it is
logged, never sent to the client, and never holds the token or its signature.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # claims import nothing from here at run time either way
    from ._jwt.claims import Claims

__all__ = [
    "BearerError",
    "ConfigurationError",
    "InsufficientScope",
    "InsufficientUserAuthentication",
    "IntrospectionUnavailable",
    "InvalidDPoPProof",
    "InvalidRequest",
    "InvalidToken",
    "KeysUnavailable",
    "MissingToken",
    "ReplayCacheUnavailable",
    "UseDPoPNonce",
]


class ConfigurationError(ValueError):
    """A constructor argument is invalid; the message names the option."""


class BearerError(Exception):
    """Base of every error that decides an HTTP answer.

    Attributes:
        status: HTTP status code of the response.
        error: RFC 6750 error code, or ``None`` for a bare challenge.
        reason: machine-readable reason code.
        description: short, token-free text for ``error_description``.
        context: operator-facing details for logs (``expected``/``got``...),
            never sent in a response.
    """

    status: int = 401
    error: str | None = None

    def __init__(
        self, reason: str, description: str, context: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(f"{reason}: {description}")
        self.reason = reason
        self.description = description
        self.context: Mapping[str, str] = dict(context) if context else {}


class MissingToken(BearerError):
    """The request carries no bearer token (answered with a bare challenge)."""

    status = 401
    error = None

    def __init__(
        self, reason: str = "missing_token", description: str = "Bearer token required"
    ) -> None:
        super().__init__(reason, description)


class InvalidRequest(BearerError):
    """The ``Authorization`` header is malformed (400 ``invalid_request``)."""

    status = 400
    error = "invalid_request"


class InvalidToken(BearerError):
    """The token is malformed, forged, expired or not meant for this API (401)."""

    status = 401
    error = "invalid_token"


class InsufficientScope(BearerError):
    """The token is valid but lacks a scope the route requires (403).

    Attributes:
        required: the scopes the route requires, in declaration order.
        missing: the required scopes the token does not hold, in the same order.
        claims: the token's claims when a verifier raised it (``None`` otherwise),
            so that the middleware can refuse a sender-constrained token sent
            without its proof before it answers with scope names.
    """

    status = 403
    error = "insufficient_scope"
    claims: Claims | None = None

    def __init__(self, required: Iterable[str], granted: Iterable[str] = ()) -> None:
        self.required = tuple(required)
        have = frozenset(granted)
        self.missing = tuple(s for s in self.required if s not in have)
        super().__init__(
            "missing_scope",
            "The token lacks a required scope",
            {"required": " ".join(self.required), "missing": " ".join(self.missing)},
        )


class KeysUnavailable(BearerError):
    """No signing key can be obtained from the issuer right now (503).

    A valid token must never be told it is invalid because the issuer is down,
    so this is a server-side condition, answered with ``Retry-After``.

    Attributes:
        retry_after: seconds the client should wait before retrying.
    """

    status = 503
    error = "temporarily_unavailable"

    def __init__(self, reason: str, description: str, retry_after: int = 5) -> None:
        super().__init__(reason, description)
        self.retry_after = retry_after


class InvalidDPoPProof(BearerError):
    """The ``DPoP`` proof is missing a part, malformed, or does not fit the request (401)."""

    status = 401
    error = "invalid_dpop_proof"


class UseDPoPNonce(BearerError):
    """The proof lacks the server nonce or carries a stale one (401, RFC 9449 section 9).

    Attributes:
        nonce: the value to send in the ``DPoP-Nonce`` response header.
    """

    status = 401
    error = "use_dpop_nonce"

    def __init__(self, nonce: str, reason: str = "nonce_required") -> None:
        super().__init__(reason, "Authorization server requires nonce in DPoP proof")
        self.nonce = nonce


class ReplayCacheUnavailable(BearerError):
    """The DPoP replay store cannot be reached, and the policy is to fail closed (503).

    A proof whose ``jti`` cannot be recorded might be a replay; refusing it
    with ``Retry-After`` is the safe answer.  Bearer requests are unaffected.

    Attributes:
        retry_after: seconds the client should wait before retrying.
    """

    status = 503
    error = "temporarily_unavailable"

    def __init__(self, retry_after: int = 5) -> None:
        super().__init__("replay_store_unavailable", "DPoP replay check is unavailable")
        self.retry_after = retry_after


class IntrospectionUnavailable(BearerError):
    """The introspection endpoint cannot answer right now (503 + ``Retry-After``).

    A valid token must never be told it is invalid because the issuer is
    down, so this is a server-side condition, like ``KeysUnavailable``.

    Attributes:
        retry_after: seconds the client should wait before retrying.
    """

    status = 503
    error = "temporarily_unavailable"

    def __init__(self, retry_after: int = 5) -> None:
        super().__init__("introspection_unavailable", "Token introspection is unavailable")
        self.retry_after = retry_after


class InsufficientUserAuthentication(BearerError):
    """The token is valid, but the sign-in behind it is too weak or too old (401).

    Attributes:
        acr_values: the acceptable authentication context classes, in order of
            preference (empty when only recency is required).
        max_age: the maximum age in seconds of the sign-in, or ``None``.
        required: the scopes the operation needs, named in the challenge's
            ``scope`` so that the new token the client asks for keeps them.
    """

    status = 401
    error = "insufficient_user_authentication"

    def __init__(
        self,
        reason: str,
        description: str,
        *,
        acr_values: Iterable[str] = (),
        max_age: int | None = None,
        context: Mapping[str, str] | None = None,
        required: Iterable[str] = (),
    ) -> None:
        super().__init__(reason, description, context)
        self.acr_values = tuple(acr_values)
        self.max_age = max_age
        self.required = tuple(required)
