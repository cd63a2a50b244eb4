"""How the resource server authenticates to the issuer (RFC 6749 section 2.3, RFC 7523).

Three methods, as Okta and most servers name them in their metadata
(``introspection_endpoint_auth_methods_supported``):

* ``client_secret_basic``: HTTP Basic with the client id and secret, each
  form-urlencoded first (RFC 6749 section 2.3.1).
* ``client_secret_post``: the same two values as form fields.
* ``private_key_jwt``: a short-lived JWT signed with the client's private key
  (RFC 7523 section 2.2 and 3; OpenID Connect Core section 9), audience the
  endpoint called, as Okta requires, with a fresh ``jti`` each time.
"""

from __future__ import annotations

import base64
import secrets
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote_plus

import jwt
from cryptography.hazmat.primitives import serialization

from .._errors import ConfigurationError

__all__ = ["AUTH_METHODS", "ClientAuth"]

AUTH_METHODS = ("client_secret_basic", "client_secret_post", "private_key_jwt")
_ASSERTION_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)
_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
_ASSERTION_LIFETIME = 60


def _load_key(private_key: object) -> Any:
    if isinstance(private_key, (str, bytes)):
        data = private_key.encode() if isinstance(private_key, str) else private_key
        try:
            return serialization.load_pem_private_key(data, password=None)
        except (ValueError, TypeError) as exc:
            raise ConfigurationError("private_key is not an unencrypted PEM private key") from exc
    return private_key


class ClientAuth:
    """The credentials of one confidential client, applied to each request.

    Raises:
        ConfigurationError: a missing secret or key for the chosen method, an
            unknown method or algorithm, or a key that cannot sign with it.
    """

    def __init__(
        self,
        client_id: str,
        *,
        method: str | None = None,
        client_secret: str | None = None,
        private_key: object = None,
        private_key_id: str | None = None,
        private_key_algorithm: str = "RS256",
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not isinstance(client_id, str) or not client_id:
            raise ConfigurationError("client_id must be a non-empty string")
        if method is None:
            method = "private_key_jwt" if private_key is not None else "client_secret_basic"
        if method not in AUTH_METHODS:
            raise ConfigurationError(f"auth_method must be one of {', '.join(AUTH_METHODS)}")
        self.client_id = client_id
        self.method = method
        self._clock = clock
        self._secret = ""
        self._key: Any = None
        self._kid = private_key_id
        self._alg = private_key_algorithm
        if method == "private_key_jwt":
            if private_key is None:
                raise ConfigurationError("private_key is required for auth_method private_key_jwt")
            if private_key_algorithm not in _ASSERTION_ALGORITHMS:
                names = ", ".join(sorted(_ASSERTION_ALGORITHMS))
                raise ConfigurationError(f"private_key_algorithm must be one of {names}")
            if private_key_id is not None and (
                not isinstance(private_key_id, str) or not private_key_id
            ):
                raise ConfigurationError("private_key_id must be a non-empty string")
            self._key = _load_key(private_key)
            try:  # fail now, not on the first request, when key and algorithm do not fit
                jwt.encode({}, self._key, algorithm=private_key_algorithm)
            except (jwt.PyJWTError, ValueError, TypeError, AttributeError) as exc:
                raise ConfigurationError(
                    f"private_key cannot sign with private_key_algorithm {private_key_algorithm}"
                ) from exc
        else:
            if not isinstance(client_secret, str) or not client_secret:
                raise ConfigurationError(f"client_secret is required for auth_method {method}")
            self._secret = client_secret

    def __repr__(self) -> str:  # never the secret
        return f"ClientAuth(client_id={self.client_id!r}, method={self.method!r})"

    def apply(self, endpoint: str, form: dict[str, str]) -> dict[str, str]:
        """Add the credentials for a request to ``endpoint``: fills ``form``, returns headers."""
        if self.method == "client_secret_basic":
            pair = f"{quote_plus(self.client_id)}:{quote_plus(self._secret)}"
            return {"Authorization": "Basic " + base64.b64encode(pair.encode()).decode("ascii")}
        if self.method == "client_secret_post":
            form["client_id"] = self.client_id
            form["client_secret"] = self._secret
            return {}
        form["client_id"] = self.client_id
        form["client_assertion_type"] = _ASSERTION_TYPE
        form["client_assertion"] = self.assertion(endpoint)
        return {}

    def assertion(self, audience: str) -> str:
        """A client assertion (RFC 7523 section 3) for ``audience``, valid for a minute."""
        now = int(self._clock())
        claims = {
            "iss": self.client_id,
            "sub": self.client_id,
            "aud": audience,
            "iat": now,
            "exp": now + _ASSERTION_LIFETIME,
            "jti": secrets.token_urlsafe(24),  # servers refuse a replayed assertion
        }
        headers = {"kid": self._kid} if self._kid else None
        return jwt.encode(claims, self._key, algorithm=self._alg, headers=headers)
