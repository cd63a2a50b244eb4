"""Helpers shared by the dev issuer tests: OAuth flows driven through httpx."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx

BASE = "/oauth2/default"
SPA = "http://127.0.0.1:9402/"
DOCS = "http://127.0.0.1:9401/docs/oauth2-redirect"
CLIENT_ID = "0oatestspa"
USER = "alice@example.com"
PASSWORD = "wonderland"
AUTHORIZE = f"{BASE}/v1/authorize"
TOKEN = f"{BASE}/v1/token"
REGISTER = f"{BASE}/v1/register"
#: A native app's loopback redirect URI (RFC 8252 section 7.3).
NATIVE = "http://127.0.0.1:53682/callback"


def authorize_params(**overrides: str | None) -> dict[str, str]:
    """A valid implicit request (``token``, ``openid items:read``); None in overrides drops."""
    params: dict[str, str | None] = {
        "client_id": CLIENT_ID,
        "redirect_uri": SPA,
        "response_type": "token",
        "scope": "openid items:read",
        "state": "state-296bc9a0",
        "nonce": "nonce-1",
    }
    params.update(overrides)
    return {k: v for k, v in params.items() if v is not None}


def fragment(response: httpx.Response) -> dict[str, str]:
    """The parameters of a redirect's fragment (asserting the redirect carries one)."""
    location = response.headers["location"]
    assert "#" in location, location
    return dict(parse_qsl(location.split("#", 1)[1], strict_parsing=True))


def query(response: httpx.Response) -> dict[str, str]:
    """The parameters of a redirect's query string (no fragment allowed)."""
    location = response.headers["location"]
    assert "#" not in location, location
    return dict(parse_qsl(urlsplit(location).query, strict_parsing=True))


def txn_of(page: httpx.Response) -> str:
    """The transaction id carried by a sign-in form."""
    match = re.search(r'name="txn" value="([^"]+)"', page.text)
    assert match is not None, page.text
    return match.group(1)


async def sign_in(
    client: httpx.AsyncClient,
    page: httpx.Response,
    username: str = USER,
    password: str = PASSWORD,
    action: str = "sign-in",
) -> httpx.Response:
    """Submit the sign-in form shown on ``page``."""
    data = {"txn": txn_of(page), "username": username, "password": password, "action": action}
    return await client.post(f"{BASE}/v1/login", data=data)


def pkce_pair() -> tuple[str, str]:
    """A fresh (code_verifier, S256 code_challenge) pair."""
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def jwt_part(token: str, index: int) -> dict[str, Any]:
    """Decode the header (0) or payload (1) of a compact JWS without verifying it."""
    segment = token.split(".")[index]
    data: dict[str, Any] = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    return data
