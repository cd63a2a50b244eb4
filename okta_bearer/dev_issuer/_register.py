"""``/v1/register``: dynamic client registration (RFC 7591), as MCP clients use it.

A client that starts with nothing but a server URL registers itself before its
first authorization request.  The dev issuer accepts public clients
(``token_endpoint_auth_method: none``) and confidential ones (a secret is
issued for ``client_secret_basic``, RFC 7591's default, or ``_post``); redirect
URIs (and ``post_logout_redirect_uris``) must be ``https`` or loopback
``http`` (RFC 8252 section 7.3).  Registered clients live in memory; past a
bound the oldest registration is forgotten.

Registration is refused to web pages exactly like ``/dev/mint`` (the guard of
:mod:`._local_only`: loopback client, loopback ``Host``, no ``Origin``: 403
``access_denied``), and a registered client receives only what
:mod:`._policy` allows: the operator's ``registration_scopes`` and
``registration_audiences``, and nothing at a non-loopback redirect URI
before the user approves it on a consent page.
"""

from __future__ import annotations

import json
import secrets
from typing import Any
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .._config import is_loopback_url
from ._core import IssuerCore
from ._local_only import web_page_refusal
from ._models import DevClient
from ._pages import MAX_FORM_BYTES, NO_STORE

AUTH_METHODS = ("none", "client_secret_basic", "client_secret_post")
GRANT_TYPES = ("authorization_code", "implicit", "client_credentials")
MAX_REGISTERED = 1000
_MAX_REDIRECTS = 10


def _error(error: str, description: str, status: int = 400) -> JSONResponse:
    return JSONResponse(
        {"error": error, "error_description": description}, status_code=status, headers=NO_STORE
    )


def _redirect_ok(uri: object) -> bool:
    if not isinstance(uri, str) or len(uri) > 2000 or "#" in uri:
        return False
    try:
        parts = urlsplit(uri)
        host = parts.hostname or ""
    except ValueError:
        return False
    if parts.scheme == "https" and host:
        return True
    return parts.scheme == "http" and is_loopback_url(uri)


def _uri_list(meta: dict[str, Any], name: str) -> list[str] | None:
    """A checked list of redirect URIs from the metadata, or ``None`` when unusable."""
    uris = meta.get(name, [])
    if (
        not isinstance(uris, list)
        or len(uris) > _MAX_REDIRECTS
        or not all(_redirect_ok(u) for u in uris)
    ):
        return None
    return uris


class RegistrationEndpoint(IssuerCore):
    """Lets a client register itself and get a ``client_id`` (and a secret if confidential)."""

    _registered: list[str]

    async def _register(self, request: Request) -> Response:
        refusal = web_page_refusal(request)
        if refusal is not None:
            # The same guard as /dev/mint: a DNS-rebinding or cross-origin page
            # must not become a client (RFC 7591 section 3 lets the server
            # restrict who registers).
            return _error("access_denied", refusal, 403)
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if kind != "application/json":
            return _error("invalid_client_metadata", "Send the metadata as application/json.", 415)
        raw = b""
        async for chunk in request.stream():
            raw += chunk
            if len(raw) > MAX_FORM_BYTES:
                return _error("invalid_client_metadata", "The metadata is too large.", 413)
        try:
            meta = json.loads(raw)
        except ValueError:
            meta = None
        if not isinstance(meta, dict):
            return _error("invalid_client_metadata", "The body must be a JSON object.")
        return self._registration(meta)

    def _registration(self, meta: dict[str, Any]) -> Response:
        method = meta.get("token_endpoint_auth_method", "client_secret_basic")
        if method not in AUTH_METHODS:
            return _error(
                "invalid_client_metadata",
                "token_endpoint_auth_method must be one of: " + ", ".join(AUTH_METHODS),
            )
        requested = meta.get("grant_types", ["authorization_code"])
        if not isinstance(requested, list) or not all(isinstance(g, str) for g in requested):
            return _error("invalid_client_metadata", "grant_types must be a list of strings.")
        # RFC 7591 section 3.2.1: the server may narrow the metadata; the
        # response says what was registered (refresh_token is not offered).
        grants = [g for g in dict.fromkeys(requested) if g in GRANT_TYPES]
        if "client_credentials" in grants and method == "none":
            grants.remove("client_credentials")
        if not grants:
            return _error("invalid_client_metadata", "None of the grant_types is supported.")
        redirects = _uri_list(meta, "redirect_uris")
        logout = _uri_list(meta, "post_logout_redirect_uris")
        if redirects is None or logout is None:
            return _error(
                "invalid_redirect_uri",
                "redirect_uris and post_logout_redirect_uris must be https:// or loopback "
                "http:// URLs without a fragment.",
            )
        if not redirects and {"authorization_code", "implicit"} & set(grants):
            return _error("invalid_redirect_uri", "A redirect-based grant needs redirect_uris.")
        name = meta.get("client_name")
        name = name[:200] if isinstance(name, str) else ""
        client_id = "0oadyn" + secrets.token_hex(8)
        secret = None if method == "none" else secrets.token_urlsafe(32)
        client = DevClient(
            client_id,
            tuple(redirects),
            secret,
            post_logout_redirect_uris=tuple(logout),
            client_name=name,
            self_registered=True,
            grant_types=tuple(grants),
        )
        self._remember_client(client)
        body: dict[str, Any] = {
            "client_id": client_id,
            "client_id_issued_at": int(self.local.clock()),
            "redirect_uris": redirects,
            "token_endpoint_auth_method": method,
            "grant_types": grants,
            "response_types": [
                t for g, t in (("authorization_code", "code"), ("implicit", "token")) if g in grants
            ],
        }
        if name:
            body["client_name"] = name
        if logout:
            body["post_logout_redirect_uris"] = logout
        if secret:
            body.update(client_secret=secret, client_secret_expires_at=0)
        return JSONResponse(body, status_code=201, headers=NO_STORE)

    def _remember_client(self, client: DevClient) -> None:
        if len(self._registered) >= MAX_REGISTERED:
            self.clients.pop(self._registered.pop(0), None)
        self._registered.append(client.client_id)
        self.clients[client.client_id] = client
