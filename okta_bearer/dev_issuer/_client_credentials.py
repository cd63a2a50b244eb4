"""The ``client_credentials`` grant at ``/v1/token`` (RFC 6749 section 4.4).

A confidential client gets a token for itself (``sub`` is its client id, as
Okta does), for custom scopes only, optionally for one RFC 8707 ``resource``.
"""

from __future__ import annotations

from collections.abc import Mapping

from starlette.responses import JSONResponse, Response

from ._context import parse_resource
from ._core import IssuerCore
from ._models import AuthError, DevClient
from ._pages import NO_STORE, token_error

# Scopes about a user, meaningless for a client acting for itself.
_USER_SCOPES = frozenset({"openid", "profile", "email", "offline_access"})


class ClientCredentialsGrant(IssuerCore):
    """Machine-to-machine tokens."""

    def _client_credentials(self, client: DevClient, form: Mapping[str, str]) -> Response:
        if not client.client_secret:
            return token_error(
                "unauthorized_client", "Only a confidential client may use client_credentials."
            )
        requested = tuple(dict.fromkeys(form.get("scope", "").split()))
        scopes = requested or tuple(s for s in self.default_scopes if s not in _USER_SCOPES)
        bad = [s for s in scopes if s not in self.scopes or s in _USER_SCOPES]
        if bad or not scopes:
            return token_error(
                "invalid_scope",
                f"The scope is not available to a client: {bad[0]}"
                if bad
                else "Request at least one custom scope.",
            )
        try:
            resource = parse_resource(form.get("resource"))
        except AuthError as error:
            return token_error(error.error, error.description)
        token = self.issue_access_token(None, client.client_id, scopes, audience=resource)
        body = {
            "token_type": "Bearer",
            "expires_in": self.token_lifetime,
            "access_token": token,
            "scope": " ".join(scopes),
        }
        return JSONResponse(body, headers=NO_STORE)
