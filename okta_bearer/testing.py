"""Testing kit: an Okta-shaped issuer in memory, for your tests and ours.

:class:`LocalIssuer` holds signing keys, mints Okta-shaped access tokens and
ID tokens, and serves its discovery documents and JWKS through an httpx
transport, so a :class:`~okta_bearer.TokenVerifier` works with no network::

    issuer = LocalIssuer()
    verifier = issuer.verifier()
    claims = await verifier.verify(issuer.mint(scp=["items:read"]))

The verifier has both faces: ``await verify()`` for ASGI apps and
``verify_sync()`` for Flask and Django, whose test clients then need no
network either::

    app = create_app(verifier=issuer.verifier())       # your Flask app factory
    response = app.test_client().get("/items", headers=issuer.headers())

The pytest plugin (installed with the package) provides the issuer as the
``okta_issuer`` fixture, and its verifier, closed after the test, as
``okta_verifier``.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any

import httpx

from ._jwt.verifier import TokenVerifier
from ._options import checked_options
from ._testing.dpop import DPoPKey
from ._testing.keys import OMIT, SigningKey, _b64

__all__ = [
    "OMIT",
    "DPoPKey",
    "IntrospectionServer",
    "LocalIssuer",
    "SigningKey",
    "TokenRegistry",
]


@checked_options
class LocalIssuer:
    """An Okta custom authorization server, in memory.

    Args:
        issuer: the issuer URL tokens carry; its metadata and keys are served
            under it by :meth:`handler`.
        audience: the default ``aud`` of minted access tokens.
        client_id: the default ``cid``.
        algorithm: algorithm of the signing key (``RS256``, as Okta, by default).
        scopes: the default ``scp`` of minted access tokens.
        keys_max_age: the ``Cache-Control: max-age`` sent with the JWKS.
        clock: seconds since the epoch used for ``iat``/``exp``.

    Attributes:
        keys: the published signing keys; ``keys[-1]`` signs new tokens.
        requests: every request served through :meth:`handler`, in order.
    """

    def __init__(
        self,
        issuer: str = "https://okta.example.test/oauth2/default",
        audience: str = "api://default",
        *,
        client_id: str = "0oa1testclient",
        algorithm: str = "RS256",
        scopes: tuple[str, ...] = ("openid", "items:read"),
        keys_max_age: int = 3600,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.issuer = issuer.rstrip("/")
        self.audience = audience
        self.client_id = client_id
        self.algorithm = algorithm
        self.scopes = scopes
        self.keys_max_age = keys_max_age
        self.clock = clock
        self.keys: list[SigningKey] = [SigningKey.generate(algorithm)]
        self.requests: list[httpx.Request] = []

    # -- keys -----------------------------------------------------------------

    @property
    def signing_key(self) -> SigningKey:
        """The key that signs newly minted tokens."""
        return self.keys[-1]

    @property
    def kid(self) -> str:
        """``kid`` of the current signing key."""
        return self.signing_key.kid

    def rotate(self, *, keep_old: bool = True) -> SigningKey:
        """Add a new signing key (and drop the old ones unless ``keep_old``)."""
        key = SigningKey.generate(self.algorithm)
        self.keys = [*self.keys, key] if keep_old else [key]
        return key

    def jwks(self) -> dict[str, Any]:
        """The JWKS document, as ``/v1/keys`` serves it."""
        return {"keys": [key.public_jwk for key in self.keys]}

    # -- tokens ---------------------------------------------------------------

    def claims(self, **overrides: Any) -> dict[str, Any]:
        """Okta-shaped access-token claims, with ``overrides`` applied (``OMIT`` drops one)."""
        now = int(self.clock())
        claims: dict[str, Any] = {
            "ver": 1,
            "jti": f"AT.{uuid.uuid4().hex}",
            "iss": self.issuer,
            "aud": self.audience,
            "iat": now,
            "exp": now + 3600,
            "cid": self.client_id,
            "uid": "00u1testuser",
            "scp": list(self.scopes),
            "auth_time": now,
            "sub": "alice@example.com",
        }
        claims.update(overrides)
        return {k: v for k, v in claims.items() if v is not OMIT}

    def sign(
        self,
        payload: Mapping[str, Any] | bytes,
        *,
        header: Mapping[str, Any] | None = None,
        key: SigningKey | None = None,
    ) -> str:
        """Sign any payload (a mapping or raw bytes) into a compact JWS.

        The header defaults to ``{"alg": key.algorithm, "kid": key.kid}`` (no
        ``typ``, like Okta); ``header`` entries override it and ``OMIT`` drops one.
        """
        key = key or self.signing_key
        head: dict[str, Any] = {"alg": key.algorithm, "kid": key.kid}
        head.update(header or {})
        head = {k: v for k, v in head.items() if v is not OMIT}
        body = payload if isinstance(payload, bytes) else json.dumps(dict(payload)).encode()
        signing_input = f"{_b64(json.dumps(head).encode())}.{_b64(body)}"
        return f"{signing_input}.{_b64(key.sign(signing_input.encode('ascii')))}"

    def mint(
        self,
        *,
        header: Mapping[str, Any] | None = None,
        key: SigningKey | None = None,
        **claims: Any,
    ) -> str:
        """Mint an Okta-shaped access token; keyword arguments override claims.

        Example: ``mint(scp=["items:write"], exp=0)`` or ``mint(cid=OMIT)``.
        """
        return self.sign(self.claims(**claims), header=header, key=key)

    def headers(self, *, scheme: str = "Bearer", **claims: Any) -> dict[str, str]:
        """``{"Authorization": "Bearer <token>"}`` for a freshly minted token, for test clients.

        ``claims`` (and ``header=``/``key=``) go to :meth:`mint`; works with
        Flask's and Django's test clients as with httpx::

            client.get("/items", headers=issuer.headers(scp=["items:read"]))
        """
        return {"Authorization": f"{scheme} {self.mint(**claims)}"}

    def mint_id_token(self, *, nonce: str | None = None, **claims: Any) -> str:
        """Mint an Okta-shaped ID token (``aud`` is the client id, no ``scp``)."""
        now = int(self.clock())
        base: dict[str, Any] = {
            "ver": 1,
            "jti": f"ID.{uuid.uuid4().hex}",
            "iss": self.issuer,
            "aud": self.client_id,
            "iat": now,
            "exp": now + 3600,
            "sub": "00u1testuser",
            "auth_time": now,
            "amr": ["pwd"],
            "idp": "00o1testidp",
        }
        if nonce is not None:
            base["nonce"] = nonce
        base.update(claims)
        return self.sign({k: v for k, v in base.items() if v is not OMIT})

    # -- HTTP face ------------------------------------------------------------

    def metadata(self) -> dict[str, Any]:
        """Authorization-server metadata shaped like an Okta custom server's."""
        base = self.issuer
        return {
            "issuer": base,
            "authorization_endpoint": f"{base}/v1/authorize",
            "token_endpoint": f"{base}/v1/token",
            "userinfo_endpoint": f"{base}/v1/userinfo",
            "jwks_uri": f"{base}/v1/keys",
            "response_types_supported": ["code", "id_token", "token", "id_token token"],
            "grant_types_supported": ["authorization_code", "implicit"],
            "subject_types_supported": ["public"],
            "scopes_supported": sorted({"openid", "profile", "email", *self.scopes}),
            "id_token_signing_alg_values_supported": [self.algorithm],
            "code_challenge_methods_supported": ["S256"],
        }

    def handler(self, request: httpx.Request) -> httpx.Response:
        """Answer discovery and JWKS requests (an httpx ``MockTransport`` handler)."""
        self.requests.append(request)
        path = request.url.path
        base = httpx.URL(self.issuer).path.rstrip("/")
        if path in (
            f"{base}/.well-known/oauth-authorization-server",
            f"{base}/.well-known/openid-configuration",
        ):
            return httpx.Response(200, json=self.metadata())
        if path == f"{base}/v1/keys":
            headers = {"cache-control": f"max-age={self.keys_max_age}, must-revalidate"}
            return httpx.Response(200, json=self.jwks(), headers=headers)
        return httpx.Response(404, json={"errorCode": "E0000022"})

    def count(self, suffix: str) -> int:
        """How many served requests had a path ending in ``suffix`` (e.g. ``"/v1/keys"``)."""
        return sum(1 for r in self.requests if r.url.path.endswith(suffix))

    def transport(self) -> httpx.MockTransport:
        """An httpx transport answering with :meth:`handler`."""
        return httpx.MockTransport(self.handler)

    def verifier(self, **options: Any) -> TokenVerifier:
        """A :class:`TokenVerifier` for this issuer that fetches through :meth:`transport`."""
        options.setdefault("audience", self.audience)
        options.setdefault("transport", self.transport())
        options.setdefault("algorithms", (self.algorithm,))
        return TokenVerifier(self.issuer, **options)


# Opaque tokens build on LocalIssuer above, so they are imported last.
from ._testing.opaque import IntrospectionServer, TokenRegistry  # noqa: E402
