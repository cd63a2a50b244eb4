"""WebSockets through BearerAuthMiddleware on uvicorn: refused at the handshake with 401/403."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import httpx
import pytest
from starlette.types import ASGIApp
from websockets.exceptions import InvalidStatus
from websockets.sync.client import ClientConnection, connect

from okta_bearer import TokenVerifier
from okta_bearer.testing import LocalIssuer

from ..servers import Server
from .apps import starlette_app

Serve = Callable[[ASGIApp], Server]
MakeVerifier = Callable[..., TokenVerifier]


@pytest.fixture(scope="module")
def server(serve: Serve, make_verifier: MakeVerifier) -> Server:
    """The strict Starlette app (HTTP and WebSocket routes)."""
    return serve(starlette_app(make_verifier()))


@pytest.fixture(scope="module")
def scoped_server(serve: Serve, make_verifier: MakeVerifier) -> Server:
    """The app with a scope every request must hold (``required_scopes=["items:read"]``)."""
    return serve(starlette_app(make_verifier(), required_scopes=["items:read"]))


def ws_connect(url: str, token: str | None = None) -> ClientConnection:
    headers = {} if token is None else {"Authorization": f"Bearer {token}"}
    return connect(url, additional_headers=headers, proxy=None, open_timeout=30)


def refused(url: str, token: str | None = None) -> InvalidStatus:
    with pytest.raises(InvalidStatus) as caught, ws_connect(url, token):
        pass  # pragma: no cover - the handshake must fail
    return caught.value


def test_valid_token_is_accepted(server: Server, issuer: LocalIssuer) -> None:
    """A WebSocket handshake with a valid token is accepted and the route sees the user."""
    with ws_connect(f"{server.ws_url}/ws", issuer.mint(scp=["items:read"])) as ws:
        message = json.loads(ws.recv(timeout=30))
    assert message["authenticated"] is True
    assert message["sub"] == "alice@example.com"
    assert message["scopes"] == ["items:read"]


def test_no_token_is_refused_with_401(server: Server) -> None:
    """A handshake without a token gets HTTP 401 and a bare challenge, never an open socket."""
    error = refused(f"{server.ws_url}/ws")
    assert error.response.status_code == 401
    assert error.response.headers["WWW-Authenticate"] == 'Bearer realm="api"'


@pytest.mark.parametrize("case", ["expired", "tampered"])
def test_invalid_token_is_refused_with_401(server: Server, issuer: LocalIssuer, case: str) -> None:
    """A handshake with an expired or tampered token gets HTTP 401 invalid_token and a JSON body."""
    if case == "expired":
        now = int(time.time())
        token = issuer.mint(iat=now - 7200, exp=now - 3600)
    else:
        head, payload, signature = issuer.mint().split(".")
        token = f"{head}.{payload}.{signature[:-6]}AAAAAA"
    error = refused(f"{server.ws_url}/ws", token)
    assert error.response.status_code == 401
    assert 'error="invalid_token"' in error.response.headers["WWW-Authenticate"]
    assert json.loads(error.response.body or b"")["error"] == "invalid_token"
    assert token.encode() not in (error.response.body or b"")


def test_token_in_query_string_is_not_used(server: Server, issuer: LocalIssuer) -> None:
    """A token in the WebSocket URL's query is ignored: the handshake is anonymous, so 401."""
    error = refused(f"{server.ws_url}/ws?access_token={issuer.mint()}")
    assert error.response.status_code == 401


def test_missing_scope_is_refused_with_403(scoped_server: Server, issuer: LocalIssuer) -> None:
    """A valid token without the middleware's required scope gets HTTP 403 insufficient_scope."""
    error = refused(f"{scoped_server.ws_url}/ws", issuer.mint(scp=["openid"]))
    assert error.response.status_code == 403
    challenge = error.response.headers["WWW-Authenticate"]
    assert 'error="insufficient_scope"' in challenge
    assert 'scope="items:read"' in challenge
    with ws_connect(f"{scoped_server.ws_url}/ws", issuer.mint(scp=["items:read"])) as ws:
        assert json.loads(ws.recv(timeout=30))["scopes"] == ["items:read"]


def test_middleware_scopes_over_http_are_403(scoped_server: Server, issuer: LocalIssuer) -> None:
    """Over plain HTTP the same scope requirement answers 403 with scope="..." in the challenge."""
    with httpx.Client(base_url=scoped_server.base_url, trust_env=False, timeout=30) as client:
        response = client.get(
            "/whoami", headers={"Authorization": f"Bearer {issuer.mint(scp=['openid'])}"}
        )
    assert response.status_code == 403
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith('Bearer realm="api", error="insufficient_scope"')
    assert challenge.endswith('scope="items:read"')
    assert response.json()["error"] == "insufficient_scope"


def test_requires_on_a_websocket_route(server: Server, issuer: LocalIssuer) -> None:
    """starlette's @requires on a WebSocket route sees the token's scopes (403 without admin)."""
    error = refused(f"{server.ws_url}/ws/admin", issuer.mint(scp=["items:read"]))
    assert error.response.status_code == 403
    with ws_connect(f"{server.ws_url}/ws/admin", issuer.mint(scp=["admin"])) as ws:
        assert ws.recv(timeout=30) == "admin"
