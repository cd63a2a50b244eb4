"""The ``client_credentials`` grant at ``/v1/token`` (RFC 6749 section 4.4).

A confidential client gets a token for itself (``sub`` is its client id, as
Okta does), for custom scopes only, optionally for one RFC 8707 ``resource``.
A self-registered client gets only the scopes and audiences the registration
policy allows (:mod:`._policy`).  With a ``DPoP`` proof the token is bound to
the proof's key (RFC 9449 section 5), so bound tokens can be had without a
browser.
"""

from __future__ import annotations

from collections.abc import Mapping

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ._context import parse_resource
from ._core import IssuerCore
from ._dpop_binding import proof_thumbprint, token_type
from ._models import USER_SCOPES, AuthError, DevClient
from ._pages import NO_STORE, token_error


class ClientCredentialsGrant(IssuerCore):
    """Machine-to-machine tokens."""

    def _proof_jkt(self, request: Request) -> str | Response | None:
        """The thumbprint a ``/v1/token`` request's DPoP proof binds to (see ``_dpop_binding``)."""
        return proof_thumbprint(request, url=f"{self.issuer}/v1/token", now=self.local.clock())

    def _client_credentials(
        self, request: Request, client: DevClient, form: Mapping[str, str]
    ) -> Response:
        if not client.client_secret:
            return token_error(
                "unauthorized_client", "Only a confidential client may use client_credentials."
            )
        requested = tuple(dict.fromkeys(form.get("scope", "").split()))
        # Scopes about a user are meaningless for a client acting for itself.
        scopes = requested or tuple(s for s in self.default_scopes if s not in USER_SCOPES)
        bad = [s for s in scopes if s not in self.scopes or s in USER_SCOPES]
        if bad or not scopes:
            return token_error(
                "invalid_scope",
                f"The scope is not available to a client: {bad[0]}"
                if bad
                else "Request at least one custom scope.",
            )
        try:
            resource = parse_resource(form.get("resource"))
            self.registration.check(client, scopes, resource)
        except AuthError as error:
            return token_error(error.error, error.description)
        jkt = self._proof_jkt(request)
        if isinstance(jkt, Response):
            return jkt
        token = self.issue_access_token(None, client.client_id, scopes, audience=resource, jkt=jkt)
        body = {
            "token_type": token_type(jkt),
            "expires_in": self.token_lifetime,
            "access_token": token,
            "scope": " ".join(scopes),
        }
        return JSONResponse(body, headers=NO_STORE)
