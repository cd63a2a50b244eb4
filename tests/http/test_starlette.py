"""A Starlette app behind BearerAuthMiddleware, served by uvicorn, called over real HTTP."""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections.abc import Callable, Iterator

import httpx
import pytest
from starlette.types import ASGIApp

from okta_bearer import KeyPolicy, TokenVerifier
from okta_bearer.testing import LocalIssuer

from ..helpers import bearer
from ..servers import Server
from .apps import SPA_ORIGIN, cors_inside_app, raw_request, starlette_app

Serve = Callable[[ASGIApp], Server]
MakeVerifier = Callable[..., TokenVerifier]


@pytest.fixture(scope="module")
def server(serve: Serve, make_verifier: MakeVerifier) -> Server:
    """The strict Starlette app (CORS outside, two public paths)."""
    return serve(starlette_app(make_verifier(), public_paths=["/health", "/public/"]))


@pytest.fixture(scope="module")
def optional_server(serve: Serve, make_verifier: MakeVerifier) -> Server:
    """The same app in optional mode."""
    return serve(starlette_app(make_verifier(), optional=True))


@pytest.fixture
def client(server: Server) -> Iterator[httpx.Client]:
    """An HTTP client for the strict app (no proxies: everything is on loopback)."""
    with httpx.Client(base_url=server.base_url, trust_env=False, timeout=30) as client:
        yield client


def test_valid_token_gives_claims_to_the_route(client: httpx.Client, issuer: LocalIssuer) -> None:
    """A valid token reaches the route with request.user and request.auth filled from its claims."""
    token = issuer.mint(scp=["items:read", "openid"], sub="alice@example.com")
    response = client.get("/whoami", headers=bearer(token))
    assert response.status_code == 200
    assert response.json() == {
        "authenticated": True,
        "identity": "alice@example.com",
        "display_name": "alice@example.com",
        "scopes": ["items:read", "openid"],
        "sub": "alice@example.com",
        "client_id": issuer.client_id,
    }


def test_requires_decorator_sees_the_token_scopes(
    client: httpx.Client, issuer: LocalIssuer
) -> None:
    """starlette.authentication.requires admits a token with the scope and refuses one without."""
    allowed = client.get("/items", headers=bearer(issuer.mint(scp=["items:read"])))
    assert allowed.status_code == 200
    assert allowed.json() == {"items": ["a", "b"], "user": "alice@example.com"}
    refused = client.get("/items", headers=bearer(issuer.mint(scp=["profile"])))
    assert refused.status_code == 403


def test_no_token_gets_a_bare_challenge(client: httpx.Client) -> None:
    """Without credentials the answer is 401 with a bare, realm-only challenge (RFC 6750 3.1)."""
    response = client.get("/whoami")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer realm="api"'
    assert response.headers["content-type"] == "application/json"
    # No error code for a request that simply carried no credentials.
    assert response.json() == {"error": None, "error_description": "Bearer token required"}


def test_other_scheme_gets_a_bare_challenge(client: httpx.Client) -> None:
    """Basic credentials are not bearer credentials: 401 with a bare challenge, not 400."""
    response = client.get("/whoami", headers={"Authorization": "Basic dXNlcjpwYXNz"})
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer realm="api"'


@pytest.mark.parametrize(
    ("case", "description"),
    [
        ("expired", "Token has expired"),
        ("tampered", "Token signature is invalid"),
        ("foreign_key", "Token signing key is not known"),
        ("wrong_audience", "Token audience is not accepted"),
        ("garbage", "Token is not a valid JWS"),
    ],
)
def test_bad_tokens_get_invalid_token(
    client: httpx.Client,
    issuer: LocalIssuer,
    caplog: pytest.LogCaptureFixture,
    case: str,
    description: str,
) -> None:
    """Expired, tampered, foreign or malformed tokens get 401 invalid_token; no token text leaks."""
    now = int(time.time())
    if case == "expired":
        token = issuer.mint(iat=now - 7200, exp=now - 3600)
    elif case == "tampered":
        head, payload, signature = issuer.mint().split(".")
        token = f"{head}.{payload}.{signature[:-6]}AAAAAA"
    elif case == "foreign_key":
        token = LocalIssuer(issuer.issuer).mint()
    elif case == "wrong_audience":
        token = issuer.mint(aud="api://another-api")
    else:
        token = "not-a-jwt"
    caplog.set_level(logging.DEBUG)
    response = client.get("/whoami", headers=bearer(token))
    assert response.status_code == 401
    challenge = response.headers["www-authenticate"]
    assert challenge == (
        f'Bearer realm="api", error="invalid_token", error_description="{description}"'
    )
    assert response.json() == {"error": "invalid_token", "error_description": description}
    assert response.headers["cache-control"] == "no-store"
    assert token not in response.text
    assert token not in caplog.text


def test_two_authorization_headers_are_a_bad_request(server: Server, issuer: LocalIssuer) -> None:
    """Two Authorization headers on the wire are a 400 invalid_request, whichever is valid."""
    token = issuer.mint()
    response = raw_request(
        server.port,
        b"GET /whoami HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        + f"Authorization: Bearer {token}\r\nAuthorization: Bearer {token}\r\n".encode()
        + b"Connection: close\r\n\r\n",
    )
    assert response.status == 400
    assert response.headers["www-authenticate"].startswith(
        'Bearer realm="api", error="invalid_request"'
    )
    assert token.encode() not in response.body


@pytest.mark.parametrize("value", [b"Bearer ", b"Bearer", b"bearer    "])
def test_empty_bearer_token_is_a_bad_request(server: Server, value: bytes) -> None:
    """``Authorization: Bearer`` with no token (trailing spaces sent raw) is 400 invalid_request."""
    response = raw_request(
        server.port,
        b"GET /whoami HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: "
        + value
        + b"\r\nConnection: close\r\n\r\n",
    )
    assert response.status == 400
    assert b'"error": "invalid_request"' in response.body
    assert 'error="invalid_request"' in response.headers["www-authenticate"]


def test_token_in_query_string_is_not_used(client: httpx.Client, issuer: LocalIssuer) -> None:
    """A token in ``?access_token=`` is ignored on HTTP: the request is anonymous, so 401."""
    response = client.get("/whoami", params={"access_token": issuer.mint()})
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer realm="api"'


@pytest.mark.parametrize("path", ["/health", "/public/info"])
def test_public_paths_need_no_token(client: httpx.Client, path: str) -> None:
    """Exact and prefix public paths are served without a token."""
    response = client.get(path)
    assert response.status_code == 200
    assert response.text == "ok"


def test_public_paths_are_exact(client: httpx.Client) -> None:
    """A path that only starts like an exact public path is still protected."""
    assert client.get("/health/extra").status_code == 401
    assert client.get("/healthz").status_code == 401


def test_optional_mode_lets_anonymous_requests_through(
    optional_server: Server, issuer: LocalIssuer
) -> None:
    """In optional mode no token means anonymous, a valid token is used, a bad one is still 401."""
    with httpx.Client(base_url=optional_server.base_url, trust_env=False, timeout=30) as client:
        anonymous = client.get("/whoami")
        assert anonymous.status_code == 200
        assert anonymous.json()["authenticated"] is False
        assert anonymous.json()["scopes"] == []

        known = client.get("/whoami", headers=bearer(issuer.mint()))
        assert known.status_code == 200
        assert known.json()["authenticated"] is True

        bad = client.get("/whoami", headers=bearer(issuer.mint(exp=int(time.time()) - 3600)))
        assert bad.status_code == 401
        assert 'error="invalid_token"' in bad.headers["www-authenticate"]


def test_cors_preflight_is_answered_without_a_token(client: httpx.Client) -> None:
    """A CORS preflight (no credentials, by design) gets CORS's 200, not a 401."""
    response = client.options(
        "/whoami",
        headers={
            "Origin": SPA_ORIGIN,
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "authorization",
        },
    )
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == SPA_ORIGIN
    assert "authorization" in response.headers["access-control-allow-headers"].lower()


def test_cors_headers_are_on_401_responses(client: httpx.Client) -> None:
    """With CORS outside, a browser's 401 carries CORS headers, so the SPA can read the error."""
    response = client.get("/whoami", headers={"Origin": SPA_ORIGIN})
    assert response.status_code == 401
    assert response.headers["access-control-allow-origin"] == SPA_ORIGIN


def test_cors_inside_the_middleware_does_not_open_preflights(
    serve: Serve, make_verifier: MakeVerifier
) -> None:
    """With CORS inside, a preflight is authenticated like any request: 401, never the app."""
    inner = serve(cors_inside_app(make_verifier()))
    with httpx.Client(base_url=inner.base_url, trust_env=False, timeout=30) as client:
        preflight = client.options(
            "/whoami",
            headers={"Origin": SPA_ORIGIN, "Access-Control-Request-Method": "GET"},
        )
    assert preflight.status_code == 401
    assert preflight.headers["www-authenticate"] == 'Bearer realm="api"'


def test_issuer_down_at_cold_start_is_503(serve: Serve) -> None:
    """Issuer refusing connections at cold start: a valid token gets 503 + Retry-After, not 401."""
    with socket.socket() as closed:
        # Bound, not listening: connections are refused and no one else can take the port.
        closed.bind(("127.0.0.1", 0))
        issuer_url = f"http://127.0.0.1:{closed.getsockname()[1]}/oauth2/default"
        down = LocalIssuer(issuer_url)
        verifier = TokenVerifier(
            issuer_url,
            down.audience,
            transport=httpx.AsyncHTTPTransport(),
            keys=KeyPolicy(timeout=30),
        )
        server = serve(starlette_app(verifier))
        token = down.mint()
        with httpx.Client(base_url=server.base_url, trust_env=False, timeout=60) as client:
            response = client.get("/whoami", headers=bearer(token))
        server.stop()
        asyncio.run(verifier.aclose())
    assert response.status_code == 503
    assert int(response.headers["retry-after"]) >= 1
    assert "www-authenticate" not in response.headers
    assert response.json() == {
        "error": "temporarily_unavailable",
        "error_description": "Signing keys are unavailable",
    }
    assert token not in response.text
