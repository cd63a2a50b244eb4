"""``/v1/token`` (the ``authorization_code`` grant with PKCE) and ``/v1/userinfo``.

Both grants honour a ``DPoP`` proof (:mod:`._dpop_binding`).  A client that
registered itself gets only what the registration policy allows
(:mod:`._policy`), also when it names a ``resource`` only here.
"""

from __future__ import annotations

import hashlib
import secrets
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .._errors import BearerError, MissingToken
from .._http.responses import ChallengeSettings, error_response
from .._http.rfc6750 import parse_authorization
from .._jwt.binding import check_bearer
from .._jwt.validation import check_scopes
from ._client_credentials import ClientCredentialsGrant
from ._clientauth import authenticate_client
from ._context import parse_resource
from ._core import b64url
from ._dpop_binding import token_type
from ._models import AuthError
from ._pages import NO_STORE, read_form, token_error

# UserInfo is an OAuth protected resource (OpenID Connect Core 5.3.3): its
# refusals are RFC 6750 answers, built like the middleware's, without a realm.
_USERINFO_CHALLENGE = ChallengeSettings(realm=None)


class TokenEndpoints(ClientCredentialsGrant):
    """The client's side of the dev issuer: redeem a code, ask who the user is."""

    async def _token(self, request: Request) -> Response:
        form = await read_form(request, json_errors=True)
        if isinstance(form, Response):
            return form
        grant_type = form.get("grant_type")
        if not grant_type:
            return token_error("invalid_request", "The grant_type parameter is missing.")
        if grant_type not in ("authorization_code", "client_credentials"):
            return token_error(
                "unsupported_grant_type",
                "Supported: authorization_code and client_credentials.",
            )
        client = authenticate_client(self.clients, request, form)
        if isinstance(client, Response):
            return client
        if not client.allows(grant_type):
            # RFC 7591 section 2: only the grants the client registered.
            return token_error("unauthorized_client", "The client did not register this grant.")
        if grant_type == "client_credentials":
            return self._client_credentials(request, client, form)
        missing = [p for p in ("code", "redirect_uri", "code_verifier") if not form.get(p)]
        if missing:
            return token_error("invalid_request", f"The {missing[0]} parameter is missing.")
        jkt = self._proof_jkt(request)
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
        # RFC 8707 section 2.2: the token's resource is the one authorized, or
        # one named now when the authorization request named none.
        try:
            resource = parse_resource(form.get("resource"))
        except AuthError as error:
            return token_error(error.error, error.description)
        if auth.resource is not None and resource not in (None, auth.resource):
            return token_error("invalid_target", "The resource was not part of the authorization.")
        try:
            self.registration.check(client, auth.scopes, resource)
        except AuthError as error:
            return token_error(error.error, error.description)
        access_token = self.issue_access_token(
            grant.user,
            client.client_id,
            auth.scopes,
            auth_time=grant.auth_time,
            audience=resource or auth.resource,
            acr=grant.acr,
            jkt=jkt,
        )
        body: dict[str, Any] = {
            "token_type": token_type(jkt),
            "expires_in": self.token_lifetime,
            "access_token": access_token,
            "scope": " ".join(auth.scopes),
        }
        if "openid" in auth.scopes:
            body["id_token"] = self._id_token(
                auth, grant.user, grant.auth_time, access_token, acr=grant.acr
            )
        return JSONResponse(body, headers=NO_STORE)

    async def _userinfo(self, request: Request) -> Response:
        try:
            raw = [v for k, v in request.scope["headers"] if k == b"authorization"]
            token = parse_authorization(raw)
            if token is None:
                raise MissingToken()
            # The issuer's own keys, in memory; a fresh verifier each time, so a
            # rotation is seen at once and nothing is cached between requests.
            async with self.local.verifier(token_cache_size=0, clock=self.local.clock) as verifier:
                claims = await verifier.verify(token)
            # A DPoP-bound token is no bearer token here either (RFC 9449 section 7.2).
            check_bearer(claims)
            check_scopes(claims, ("openid",))
        except BearerError as error:
            answer = error_response(error, _USERINFO_CHALLENGE)
            response = Response(answer.body, status_code=answer.status)
            response.raw_headers = [*answer.headers, (b"pragma", b"no-cache")]
            return response
        user = next((u for u in self.users.values() if u.uid == claims.uid), None)
        if user is None:
            return JSONResponse({"sub": claims.sub}, headers=NO_STORE)
        info: dict[str, Any] = {"sub": user.uid}
        if "profile" in claims.scopes:
            info.update(name=user.name, preferred_username=user.login)
        if "email" in claims.scopes:
            info.update(email=user.login, email_verified=True)
        return JSONResponse(info, headers=NO_STORE)
