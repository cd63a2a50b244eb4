"""Client authentication at ``/v1/token`` (RFC 6749 section 2.3.1).

A public client (no secret) names itself with ``client_id``; a confidential
client proves itself with HTTP Basic (``client_secret_basic``) or with
``client_secret`` in the form (``client_secret_post``), never both.  One
function serves ``/v1/token``, ``/v1/introspect`` and ``/v1/revoke``, and an
empty secret never authenticates.
"""

from __future__ import annotations

import base64
import binascii
import secrets
from collections.abc import Mapping
from urllib.parse import unquote

from starlette.requests import Request
from starlette.responses import Response

from ._models import DevClient
from ._pages import token_error


def _invalid_client(description: str, *, basic: bool) -> Response:
    response = token_error("invalid_client", description, status=401)
    if basic:
        # RFC 6749 section 5.2: a failed Basic authentication is answered with its challenge.
        response.headers["www-authenticate"] = 'Basic realm="okta_bearer dev issuer"'
    return response


def _basic_credentials(request: Request) -> tuple[str, str] | Response | None:
    values = request.headers.getlist("authorization")
    if not values:
        return None
    scheme, _, encoded = values[0].partition(" ")
    if len(values) > 1 or scheme.lower() != "basic":
        return token_error("invalid_request", "Use one Basic Authorization header.")
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return _invalid_client("The Basic credentials are malformed.", basic=True)
    client_id, sep, secret = decoded.partition(":")
    if not sep:
        return _invalid_client("The Basic credentials are malformed.", basic=True)
    # RFC 6749 section 2.3.1: both parts are form-urlencoded before encoding.
    return unquote(client_id.replace("+", " ")), unquote(secret.replace("+", " "))


def authenticate_client(
    clients: Mapping[str, DevClient], request: Request, form: Mapping[str, str]
) -> DevClient | Response:
    """The client the token request comes from, or the error response to send."""
    basic = _basic_credentials(request)
    if isinstance(basic, Response):
        return basic
    form_id = form.get("client_id") or None
    if basic is not None:
        if "client_secret" in form:
            return token_error("invalid_request", "Use only one client authentication method.")
        client_id, secret = basic
        if form_id is not None and form_id != client_id:
            return token_error("invalid_request", "The client_id does not match the credentials.")
    else:
        if form_id is None:
            # RFC 6749 section 5.2: no client authentication included is invalid_client.
            return _invalid_client("The client_id parameter is missing.", basic=False)
        client_id, secret = form_id, form.get("client_secret", "")
    client = clients.get(client_id)
    if client is None:
        return _invalid_client("The client is not registered.", basic=basic is not None)
    if client.client_secret:
        if not secret_matches(client, secret):
            return _invalid_client("Client authentication failed.", basic=basic is not None)
    elif secret:
        return _invalid_client("This client is public and has no secret.", basic=basic is not None)
    return client


def secret_matches(client: DevClient, offered: str) -> bool:
    """Whether ``offered`` is ``client``'s secret; an empty secret on either side never is."""
    expected = client.client_secret
    if not expected or not offered:
        return False
    return secrets.compare_digest(expected.encode(), offered.encode())
