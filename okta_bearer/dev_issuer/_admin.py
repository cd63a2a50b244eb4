"""The loopback-only admin endpoints: ``/dev/mint`` (a token for curl) and ``/dev/rotate``.

``/dev/mint`` takes ``scopes``, ``user`` (``null`` for a client token), ``client_id``,
``expires_in``, ``opaque``, and ``audience`` (any ``aud``) or ``resource`` (an RFC 8707
resource indicator, e.g. an MCP server URL, which becomes the ``aud``), and
``jkt``: a DPoP key's RFC 7638 SHA-256 thumbprint (43 base64url characters)
that binds the token to that key (``cnf.jkt``, RFC 9449 section 6), answered
as ``token_type: DPoP``.  A bound opaque token introspects as ``DPoP`` with
its ``cnf.jkt`` (RFC 9449 section 6.2).  ``okta-bearer mint --dpop-key``
computes the thumbprint locally and sends only it: the private key never
leaves the operator's machine.

They hand out tokens and change keys, so no web page may reach them: the
guard of :mod:`._local_only` (loopback client, loopback ``Host``, no
``Origin``) and a JSON object body.  The CORS middleware never wraps these
routes (see :class:`~okta_bearer.dev_issuer.DevIssuer`).
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ._context import parse_resource
from ._core import IssuerCore
from ._dpop_binding import is_thumbprint, token_type
from ._local_only import web_page_refusal
from ._models import DEFAULT_SCOPES, AuthError
from ._pages import NO_STORE


def _audience_problems(audience: object, resource: object, opaque: object) -> list[str]:
    """What is wrong with a mint request's ``audience`` (any ``aud``) and ``resource``
    (an RFC 8707 resource indicator, which becomes the ``aud``)."""
    if audience is None and resource is None:
        return []
    if audience is not None and resource is not None:
        return ["give audience or resource, not both"]
    if opaque is True:
        return ["audience and resource are for JWTs, not opaque tokens"]
    if audience is not None and (
        not isinstance(audience, str) or not audience or len(audience) > 2000
    ):
        return ["audience must be a non-empty string"]
    if resource is not None:
        try:
            parse_resource(resource if isinstance(resource, str) else "")
        except AuthError as error:
            return [error.description]
    return []


class AdminEndpoints(IssuerCore):
    """What ``okta-bearer mint`` and ``okta-bearer rotate`` call."""

    async def _admin_body(self, request: Request) -> dict[str, Any] | Response:
        refusal = web_page_refusal(request)
        if refusal is not None:
            return JSONResponse({"error": "forbidden", "error_description": refusal}, 403)
        if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
            return JSONResponse(
                {"error": "invalid_request", "error_description": "Send application/json."}, 415
            )
        raw = await request.body()
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return JSONResponse(
                {"error": "invalid_request", "error_description": "Body must be a JSON object."},
                400,
            )
        return body

    async def _admin_mint(self, request: Request) -> Response:
        body = await self._admin_body(request)
        if isinstance(body, Response):
            return body
        scopes = body.get("scopes", list(DEFAULT_SCOPES[:1]))
        client_id = body.get("client_id", next(iter(self.clients)))
        login = body.get("user", next(iter(self.users.values())).login if self.users else None)
        lifetime = body.get("expires_in", self.token_lifetime)
        opaque = body.get("opaque", False)
        audience, resource = body.get("audience"), body.get("resource")
        jkt = body.get("jkt")
        problems = []
        if not isinstance(scopes, list) or not all(isinstance(s, str) for s in scopes):
            problems.append("scopes must be a list of strings")
        elif any(s not in self.scopes for s in scopes):
            problems.append("scopes must be offered by the server")
        if not isinstance(client_id, str) or client_id not in self.clients:
            problems.append("client_id must be a registered client")
        if login is not None and (not isinstance(login, str) or login.lower() not in self.users):
            problems.append("user must be a configured user's login, or null for a client token")
        if (
            isinstance(lifetime, bool)
            or not isinstance(lifetime, int)
            or not 1 <= lifetime <= 86400
        ):
            problems.append("expires_in must be an integer between 1 and 86400")
        if not isinstance(opaque, bool):
            problems.append("opaque must be a boolean")
        problems += _audience_problems(audience, resource, opaque)
        if jkt is not None and not is_thumbprint(jkt):
            problems.append(
                "jkt must be a key's RFC 7638 SHA-256 thumbprint: 43 base64url characters"
            )
        if problems:
            return JSONResponse(
                {"error": "invalid_request", "error_description": "; ".join(problems)}, 400
            )
        user = self.users[login.lower()] if isinstance(login, str) else None
        if opaque:
            token = self.issue_opaque_token(user, client_id, scopes, lifetime=lifetime, jkt=jkt)
        else:
            aud = resource if isinstance(resource, str) else audience
            token = self.issue_access_token(
                user, client_id, scopes, lifetime=lifetime, audience=aud, jkt=jkt
            )
        return JSONResponse(
            {
                "access_token": token,
                "token_type": token_type(jkt),
                "expires_in": lifetime,
                "scope": " ".join(scopes),
            },
            headers=NO_STORE,
        )

    async def _admin_rotate(self, request: Request) -> Response:
        body = await self._admin_body(request)
        if isinstance(body, Response):
            return body
        keep_old = body.get("keep_old", True)
        if not isinstance(keep_old, bool):
            return JSONResponse(
                {"error": "invalid_request", "error_description": "keep_old must be a boolean"},
                400,
            )
        kid = self.rotate(keep_old=keep_old)
        return JSONResponse({"kid": kid, "kids": [k.kid for k in self.local.keys]})
