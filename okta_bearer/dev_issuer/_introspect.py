"""``/v1/introspect`` (RFC 7662) and ``/v1/revoke`` (RFC 7009), shaped like Okta's.

Clients authenticate as at ``/v1/token`` (:mod:`._clientauth`): a
confidential client (one with a ``client_secret``) by HTTP Basic or
``client_id``/``client_secret`` form fields; a public client by ``client_id``
alone.  Only a confidential client may introspect (RFC 7662 section 2.1: the
endpoint must not let anyone probe tokens; a public client's id is no
secret); a token is revoked only by the client it was issued to, public or
not (RFC 7009 section 2.1).  A DPoP-bound token introspects as
``token_type: DPoP`` with its ``cnf.jkt``.  Opaque
tokens (``/dev/mint`` with ``"opaque": true``) live in memory; a revoked JWT
is remembered by its ``jti``.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ._clientauth import authenticate_client
from ._core import IssuerCore
from ._models import DevClient
from ._pages import NO_STORE, read_form, token_error

#: How clients authenticate at /v1/introspect (confidential only), for the metadata.
INTROSPECT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]
#: How clients authenticate at /v1/revoke (public clients too), for the metadata.
REVOKE_AUTH_METHODS = [*INTROSPECT_AUTH_METHODS, "none"]


class IntrospectEndpoints(IssuerCore):
    """The resource server's side of the dev issuer: is this token active, revoke it."""

    async def _authenticated_form(
        self, request: Request, *, confidential: bool
    ) -> tuple[DevClient, str] | Response:
        form = await read_form(request, json_errors=True)
        if isinstance(form, Response):
            return form
        client = authenticate_client(self.clients, request, form)
        if isinstance(client, Response):
            return client
        if confidential and not client.client_secret:
            return token_error(
                "invalid_client", "Only a confidential client may introspect.", status=401
            )
        token = form.get("token")
        if not token:
            return token_error("invalid_request", "The token parameter is missing.")
        return client, token

    async def _introspect(self, request: Request) -> Response:
        checked = await self._authenticated_form(request, confidential=True)
        if isinstance(checked, Response):
            return checked
        return JSONResponse(self.tokens.answer(checked[1]), headers=NO_STORE)

    async def _revoke(self, request: Request) -> Response:
        checked = await self._authenticated_form(request, confidential=False)
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
