"""okta_bearer: protect ASGI APIs with Okta (and OpenID Connect) access tokens."""

from __future__ import annotations

from ._claims import Claims
from ._errors import (
    BearerError,
    ConfigurationError,
    InsufficientScope,
    InvalidRequest,
    InvalidToken,
    KeysUnavailable,
    MissingToken,
)
from ._introspection import IntrospectionUnavailable, IntrospectionVerifier
from ._issuers import MultiIssuerVerifier, TokenProfile, TokenShapeVerifier
from ._protocols import Verifier
from ._verifier import TokenVerifier
from .middleware import BearerAuthMiddleware, BearerUser

__version__ = "0.1.0"

__all__ = [
    "BearerAuthMiddleware",
    "BearerError",
    "BearerUser",
    "Claims",
    "ConfigurationError",
    "InsufficientScope",
    "IntrospectionUnavailable",
    "IntrospectionVerifier",
    "InvalidRequest",
    "InvalidToken",
    "KeysUnavailable",
    "MissingToken",
    "MultiIssuerVerifier",
    "TokenProfile",
    "TokenShapeVerifier",
    "TokenVerifier",
    "Verifier",
    "__version__",
]
