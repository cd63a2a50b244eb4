"""okta_bearer: protect ASGI APIs with Okta (and OpenID Connect) access tokens."""

from __future__ import annotations

from ._config import KeyPolicy
from ._dpop.settings import DPoPSettings
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
from ._http.metadata import ProtectedResource
from ._http.require import check_auth, require_auth
from ._http.startup import StartupCheckFailed
from ._jwt.binding import check_bearer
from ._jwt.claims import Claims
from ._jwt.verifier import TokenVerifier
from ._opaque.introspection import IntrospectionVerifier
from ._opaque.issuers import MultiIssuerVerifier, TokenProfile, TokenShapeVerifier
from ._options import checked_options
from ._protocols import SyncVerifier, Verifier
from ._store.memory import MemoryStore, Store, SyncStore
from .middleware import BearerAuthMiddleware, BearerUser

# Unknown options raise ConfigurationError (see _options.py).  These two are
# guarded here, where every import of the package passes first, so their
# modules stay as their owners keep them.
checked_options(DPoPSettings)
checked_options(IntrospectionVerifier)

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
    "StartupCheckFailed",
    "Store",
    "SyncStore",
    "SyncVerifier",
    "TokenProfile",
    "TokenShapeVerifier",
    "TokenVerifier",
    "UseDPoPNonce",
    "Verifier",
    "__version__",
    "check_auth",
    "check_bearer",
    "require_auth",
]
