"""``/v1/token`` (the ``authorization_code`` grant with PKCE) and ``/v1/userinfo``.

A token request with a ``DPoP`` proof (RFC 9449 section 5) gets a DPoP-bound
access token: ``token_type: DPoP`` and ``cnf.jkt`` set to the proof key's
thumbprint.  The dev issuer checks the proof but keeps no ``jti`` replay cache.
"""

from __future__ import annotations

import hashlib
import secrets
from typing import Any

import httpx
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .._dpop import InvalidDPoPProof, check_proof
from .._errors import BearerError, InvalidRequest, MissingToken
from .._rfc6750 import challenge, parse_authorization
from .._verifier import TokenVerifier
from ._core import IssuerCore, b64url
from ._pages import NO_STORE, read_form, token_error


class TokenEndpoints(IssuerCore):
    """The client's side of the dev issuer: redeem a code, ask who the user is."""

    async def _token(self, request: Request) -> Response:
        form = await read_form(request, json_errors=True)
        if isinstance(form, Response):
            return form
        grant_type = form.get("grant_type")
        if not grant_type:
            return token_error("invalid_request", "The grant_type parameter is missing.")
        if grant_type != "authorization_code":
            return token_error("unsupported_grant_type", "Only authorization_code is supported.")
        missing = [
            p for p in ("code", "redirect_uri", "client_id", "code_verifier") if not form.get(p)
        ]
        if missing:
            return token_error("invalid_request", f"The {missing[0]} parameter is missing.")
        client = self.clients.get(form["client_id"])
        if client is None:
            return token_error("invalid_client", "The client is not registered.", status=401)
        jkt = self._dpop_thumbprint(request)
        if isinstance(jkt, Response):
            return jkt
        # A code is redeemable once, whatever the outcome (RFC 6749 4.1.2).
        grant = self._store.codes.pop(form["code"], None)
        if grant is None or grant.expires_at <= self.local.clock():
            return token_error("invalid_grant", "The authorization code is invalid or expired.")
        auth = grant.request
        if auth.client.client_id != client.client_id:
            return token_error("invalid_grant", "The code was issued to another client.")
        if auth.redirect_uri != form["redirect_uri"]:
            return token_error("invalid_grant", "The redirect_uri does not match the request.")
        # RFC 7636 4.6: BASE64URL(SHA256(code_verifier)) must equal the code_challenge.
        verifier = form["code_verifier"]
        expected = b64url(hashlib.sha256(verifier.encode("ascii", "replace")).digest())
        if not (43 <= len(verifier) <= 128) or not secrets.compare_digest(
            expected, auth.code_challenge or ""
        ):
            return token_error("invalid_grant", "PKCE verification of the code_verifier failed.")
        access_token = self.issue_access_token(
            grant.user, client.client_id, auth.scopes, auth_time=grant.auth_time, jkt=jkt
        )
        body: dict[str, Any] = {
            "token_type": "Bearer" if jkt is None else "DPoP",
            "expires_in": self.token_lifetime,
            "access_token": access_token,
            "scope": " ".join(auth.scopes),
        }
        if "openid" in auth.scopes:
            body["id_token"] = self._id_token(auth, grant.user, grant.auth_time, access_token)
        return JSONResponse(body, headers=NO_STORE)

    def _dpop_thumbprint(self, request: Request) -> str | Response | None:
        """The proof key's thumbprint, ``None`` without a proof, or the 400 to send."""
        proofs = [v for k, v in request.scope["headers"] if k == b"dpop"]
        if not proofs:
            return None
        if len(proofs) > 1:
            return token_error("invalid_dpop_proof", "Only one DPoP proof is allowed.")
        try:
            proof = check_proof(
                proofs[0].decode("ascii"),
                method="POST",
                url=f"{self.issuer}/v1/token",
                now=self.local.clock(),
                access_token=None,  # no ath at the token endpoint (RFC 9449 section 5)
            )
        except (UnicodeDecodeError, InvalidDPoPProof):
            return token_error("invalid_dpop_proof", "The DPoP proof is invalid.")
        return proof.jkt

    async def _userinfo(self, request: Request) -> Response:
        try:
            raw = [v for k, v in request.scope["headers"] if k == b"authorization"]
            token = parse_authorization(raw)
            if token is None:
                raise MissingToken()
            jwks = self.local.jwks()
            transport = httpx.MockTransport(lambda _: httpx.Response(200, json=jwks))
            async with TokenVerifier(
                self.issuer,
                self.local.audience,
                jwks_uri=f"{self.issuer}/v1/keys",
                algorithms=(self.local.algorithm,),
                transport=transport,
                token_cache_size=0,
                clock=self.local.clock,
            ) as verifier:
                claims = await verifier.verify(token, ("openid",))
        except BearerError as error:
            status = error.status if error.status != 503 else 401
            headers = {"www-authenticate": challenge(error, realm=None)} | NO_STORE
            body = {"error": error.error, "error_description": error.description}
            if isinstance(error, (MissingToken, InvalidRequest)) and error.error is None:
                body = {"error": "invalid_request", "error_description": error.description}
            return JSONResponse(body, status_code=status, headers=headers)
        user = next((u for u in self.users.values() if u.uid == claims.uid), None)
        if user is None:
            return JSONResponse({"sub": claims.sub}, headers=NO_STORE)
        info: dict[str, Any] = {"sub": user.uid}
        if "profile" in claims.scopes:
            info.update(name=user.name, preferred_username=user.login)
        if "email" in claims.scopes:
            info.update(email=user.login, email_verified=True)
        return JSONResponse(info, headers=NO_STORE)
