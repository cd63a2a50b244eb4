"""Testing kit, part two: opaque tokens and an Okta-shaped introspection endpoint.

:class:`IntrospectionServer` puts ``/v1/introspect`` and ``/v1/revoke`` in
front of a :class:`~okta_bearer.testing.LocalIssuer` (whose discovery and
keys it keeps serving), so an :class:`~okta_bearer.IntrospectionVerifier`
runs with no network::

    issuer = LocalIssuer()
    server = IntrospectionServer(issuer)
    verifier = server.verifier()
    claims = await verifier.verify(server.mint_opaque(scp=["items:read"]))
    server.revoke(token)            # the next introspection says active: false

:class:`TokenRegistry` is the state behind it (opaque tokens, revocations and
the answer for a token), shared with the dev issuer's HTTP endpoints.
"""

from __future__ import annotations

import base64
import binascii
import secrets
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, unquote_plus

import httpx
import jwt

from .._jwt.binding import DPOP_KEY, binding_of
from .._opaque.introspection import IntrospectionVerifier
from .._options import checked_options

if TYPE_CHECKING:  # testing.py re-exports this module: no import cycle at run time
    from ..testing import LocalIssuer

__all__ = ["IntrospectionServer", "TokenRegistry"]

_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


@checked_options
@dataclass
class TokenRegistry:
    """Opaque tokens an issuer handed out, tokens it revoked, and what introspection says.

    Attributes:
        local: the issuer whose keys sign (and verify) its JWTs.
        opaque: claims by opaque token.
        revoked: revoked opaque tokens and ``jti`` values of revoked JWTs.
    """

    local: LocalIssuer
    opaque: dict[str, dict[str, Any]] = field(default_factory=dict)
    revoked: set[str] = field(default_factory=set)

    def mint_opaque(self, **overrides: Any) -> str:
        """An opaque access token whose claims are ``LocalIssuer.claims(**overrides)``."""
        token = secrets.token_urlsafe(32)
        self.opaque[token] = self.local.claims(**overrides)
        return token

    def revoke(self, token: str) -> None:
        """Revoke an opaque token, or a JWT of this issuer (by its ``jti``)."""
        if token in self.opaque:
            self.revoked.add(token)
            return
        claims = self._jwt_claims(token)
        if claims is not None and isinstance(claims.get("jti"), str):
            self.revoked.add(claims["jti"])

    def _jwt_claims(self, token: str) -> dict[str, Any] | None:
        # Time claims are judged against the issuer's clock in answer(), not here.
        options = {
            "verify_aud": False,
            "verify_exp": False,
            "verify_iat": False,
            "verify_nbf": False,
        }
        for key in self.local.keys:
            try:
                claims: dict[str, Any] = jwt.decode(
                    token,
                    key.private_key.public_key(),
                    algorithms=[key.algorithm],
                    options=options,  # type: ignore[arg-type]
                )
            except jwt.PyJWTError:
                continue
            if claims.get("iss") != self.local.issuer or "scp" not in claims:
                return None  # an ID token, or another issuer's: not an access token here
            return claims
        return None

    def answer(self, token: str) -> dict[str, Any]:
        """Okta's introspection answer for ``token`` (``{"active": false}`` when unknown)."""
        now = self.local.clock()
        if token in self.opaque:
            claims = None if token in self.revoked else self.opaque[token]
        else:
            claims = self._jwt_claims(token)
        if claims is None or claims.get("jti") in self.revoked:
            return {"active": False}
        exp = claims.get("exp")
        if isinstance(exp, (int, float)) and not isinstance(exp, bool) and exp <= now:
            return {"active": False}  # odd exp values are passed on, for tests of the checks
        scopes = claims.get("scp", [])
        answer = {
            "active": True,
            "scope": " ".join(scopes) if isinstance(scopes, list) else scopes,
            "username": claims.get("sub"),
            "exp": claims.get("exp"),
            "iat": claims.get("iat"),
            "sub": claims.get("sub"),
            "aud": claims.get("aud"),
            "iss": claims.get("iss"),
            "jti": claims.get("jti"),
            # RFC 9449 section 6.2: a DPoP-bound token introspects as DPoP, with its cnf.
            "token_type": "DPoP" if binding_of(claims) == DPOP_KEY else "Bearer",
            "client_id": claims.get("cid"),
            "uid": claims.get("uid"),
        }
        if "cnf" in claims:
            answer["cnf"] = claims["cnf"]
        return {k: v for k, v in answer.items() if v is not None}


def basic_credentials(header: str) -> tuple[str, str] | None:
    """``(client_id, secret)`` from an ``Authorization: Basic`` value (RFC 6749 section 2.3.1)."""
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    client_id, sep, secret = decoded.partition(":")
    return (unquote_plus(client_id), unquote_plus(secret)) if sep else None


@checked_options
class IntrospectionServer:
    """``/v1/introspect`` and ``/v1/revoke`` for a :class:`LocalIssuer`, as an httpx transport.

    Args:
        local: the issuer; its discovery, keys and clock are used.
        client_id: the resource server's client id.
        client_secret: its secret (``client_secret_basic`` or ``_post``).
        client_public_key: a public key accepting ``private_key_jwt``
            assertions from ``client_id`` (audience the endpoint URL).

    Attributes:
        registry: opaque tokens and revocations.
        requests: every request served, in order.
        answer_override: when set, ``/v1/introspect`` answers with it (for
            hostile answers: anything an ``httpx.Response`` can carry).
    """

    def __init__(
        self,
        local: LocalIssuer,
        *,
        client_id: str = "0oaresourceserver",
        client_secret: str = "resource-server-secret",  # noqa: S107 - a test fixture
        client_public_key: Any = None,
    ) -> None:
        self.local = local
        self.client_id = client_id
        self.client_secret = client_secret
        self.client_public_key = client_public_key
        self.registry = TokenRegistry(local)
        self.requests: list[httpx.Request] = []
        self.answer_override: httpx.Response | None = None

    @property
    def introspection_endpoint(self) -> str:
        """``{issuer}/v1/introspect``."""
        return f"{self.local.issuer}/v1/introspect"

    def mint_opaque(self, **overrides: Any) -> str:
        """An opaque token whose introspection shows ``LocalIssuer.claims(**overrides)``."""
        return self.registry.mint_opaque(**overrides)

    def revoke(self, token: str) -> None:
        """Revoke ``token`` (opaque, or a JWT of this issuer)."""
        self.registry.revoke(token)

    def count(self, suffix: str) -> int:
        """How many served requests had a path ending in ``suffix``."""
        return sum(1 for r in self.requests if r.url.path.endswith(suffix))

    def _authenticated(self, request: httpx.Request, form: dict[str, str]) -> bool:
        basic = basic_credentials(request.headers.get("authorization", ""))
        if basic is not None:
            # An empty secret never authenticates, even one configured empty.
            return bool(self.client_secret) and basic == (self.client_id, self.client_secret)
        if form.get("client_assertion_type") == _ASSERTION_TYPE:
            if self.client_public_key is None:
                return False
            try:
                claims = jwt.decode(
                    form.get("client_assertion", ""),
                    self.client_public_key,
                    algorithms=["RS256", "ES256", "PS256", "EdDSA"],
                    audience=self.introspection_endpoint,
                    issuer=self.client_id,
                    options={"require": ["exp", "jti", "sub"]},
                )
            except jwt.PyJWTError:
                return False
            return bool(claims["sub"] == self.client_id)
        return bool(self.client_secret) and (form.get("client_id"), form.get("client_secret")) == (
            self.client_id,
            self.client_secret,
        )

    def handler(self, request: httpx.Request) -> httpx.Response:
        """Answer introspection and revocation; everything else as the LocalIssuer does."""
        self.requests.append(request)
        path = request.url.path
        base = httpx.URL(self.local.issuer).path.rstrip("/")
        if path in (
            f"{base}/.well-known/oauth-authorization-server",
            f"{base}/.well-known/openid-configuration",
        ):
            meta = self.local.metadata()
            meta.update(
                introspection_endpoint=self.introspection_endpoint,
                revocation_endpoint=f"{self.local.issuer}/v1/revoke",
                introspection_endpoint_auth_methods_supported=[
                    "client_secret_basic",
                    "client_secret_post",
                    "private_key_jwt",
                ],
            )
            return httpx.Response(200, json=meta)
        if path not in (f"{base}/v1/introspect", f"{base}/v1/revoke") or request.method != "POST":
            return self.local.handler(request)
        form = dict(parse_qsl(request.content.decode("utf-8", "replace")))
        if not self._authenticated(request, form):
            return httpx.Response(401, json={"error": "invalid_client"})
        token = form.get("token")
        if not token:
            return httpx.Response(400, json={"error": "invalid_request"})
        if path.endswith("/v1/revoke"):
            self.registry.revoke(token)
            return httpx.Response(200)
        override = self.answer_override
        if override is not None:
            # A copy per request: a client takes over the stream of the answer it is given.
            return httpx.Response(
                override.status_code, headers=override.headers, stream=override.stream
            )
        return httpx.Response(200, json=self.registry.answer(token))

    def transport(self) -> httpx.MockTransport:
        """An httpx transport answering with :meth:`handler`."""
        return httpx.MockTransport(self.handler)

    def verifier(self, **options: Any) -> IntrospectionVerifier:
        """An :class:`IntrospectionVerifier` for this server, fetching through :meth:`transport`."""
        options.setdefault("audience", self.local.audience)
        options.setdefault("client_id", self.client_id)
        if "private_key" not in options:
            options.setdefault("client_secret", self.client_secret)
        options.setdefault("transport", self.transport())
        options.setdefault("clock", self.local.clock)
        return IntrospectionVerifier(self.local.issuer, **options)
