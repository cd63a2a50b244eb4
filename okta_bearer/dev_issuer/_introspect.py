"""``/v1/introspect`` (RFC 7662) and ``/v1/revoke`` (RFC 7009), shaped like Okta's.

Clients authenticate as at Okta: a confidential client (one with a
``client_secret``) by HTTP Basic or ``client_id``/``client_secret`` form
fields; a public client by ``client_id`` alone.  Any registered client may
introspect; a token is revoked only by the client it was issued to.  Opaque
tokens (``/dev/mint`` with ``"opaque": true``) live in memory; a revoked JWT
is remembered by its ``jti``.
"""

from __future__ import annotations

import secrets

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .._testing.opaque import basic_credentials
from ._core import IssuerCore
from ._models import DevClient
from ._pages import NO_STORE, read_form, token_error

#: What the endpoints accept, for the metadata documents.
AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]


class IntrospectEndpoints(IssuerCore):
    """The resource server's side of the dev issuer: is this token active, revoke it."""

    def _client(self, request: Request, form: dict[str, str]) -> DevClient | None:
        basic = basic_credentials(request.headers.get("authorization", ""))
        client_id, secret = basic if basic else (form.get("client_id"), form.get("client_secret"))
        client = self.clients.get(client_id or "")
        if client is None:
            return None
        if client.client_secret is None:
            return client if secret is None else None
        if secret is None or not secrets.compare_digest(
            secret.encode(), client.client_secret.encode()
        ):
            return None
        return client

    async def _authenticated_form(self, request: Request) -> tuple[DevClient, str] | Response:
        form = await read_form(request, json_errors=True)
        if isinstance(form, Response):
            return form
        client = self._client(request, form)
        if client is None:
            return token_error("invalid_client", "Client authentication failed.", status=401)
        token = form.get("token")
        if not token:
            return token_error("invalid_request", "The token parameter is missing.")
        return client, token

    async def _introspect(self, request: Request) -> Response:
        checked = await self._authenticated_form(request)
        if isinstance(checked, Response):
            return checked
        return JSONResponse(self.tokens.answer(checked[1]), headers=NO_STORE)

    async def _revoke(self, request: Request) -> Response:
        checked = await self._authenticated_form(request)
        if isinstance(checked, Response):
            return checked
        client, token = checked
        owner = self.tokens.answer(token).get("client_id")
        if owner is not None and owner != client.client_id:
            # RFC 7009 section 2.1: only the client the token was issued to may revoke it.
            return token_error("invalid_client", "The token was issued to another client.")
        # RFC 7009 section 2.2: unknown and already invalid tokens are answered 200 too.
        self.tokens.revoke(token)
        return Response(status_code=200, headers=NO_STORE)
