"""okta_bearer: protect ASGI APIs with Okta (and OpenID Connect) access tokens."""

from __future__ import annotations

from ._claims import Claims
from ._config import KeyPolicy
from ._dpop_settings import DPoPSettings
from ._errors import (
    BearerError,
    ConfigurationError,
    InsufficientScope,
    InsufficientUserAuthentication,
    IntrospectionUnavailable,
    InvalidDPoPProof,
    InvalidRequest,
    InvalidToken,
    KeysUnavailable,
    MissingToken,
    ReplayCacheUnavailable,
    UseDPoPNonce,
)
from ._introspection import IntrospectionVerifier
from ._issuers import MultiIssuerVerifier, TokenProfile, TokenShapeVerifier
from ._metadata import ProtectedResource
from ._protocols import Verifier
from ._require import check_auth, require_auth
from ._store import MemoryStore, Store
from ._verifier import TokenVerifier
from .middleware import BearerAuthMiddleware, BearerUser

__version__ = "0.1.0"

__all__ = [
    "BearerAuthMiddleware",
    "BearerError",
    "BearerUser",
    "Claims",
    "ConfigurationError",
    "DPoPSettings",
    "InsufficientScope",
    "InsufficientUserAuthentication",
    "IntrospectionUnavailable",
    "IntrospectionVerifier",
    "InvalidDPoPProof",
    "InvalidRequest",
    "InvalidToken",
    "KeyPolicy",
    "KeysUnavailable",
    "MemoryStore",
    "MissingToken",
    "MultiIssuerVerifier",
    "ProtectedResource",
    "ReplayCacheUnavailable",
    "Store",
    "TokenProfile",
    "TokenShapeVerifier",
    "TokenVerifier",
    "UseDPoPNonce",
    "Verifier",
    "__version__",
    "check_auth",
    "require_auth",
]
