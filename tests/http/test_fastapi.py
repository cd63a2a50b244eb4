"""A FastAPI app using okta_bearer.fastapi, served by uvicorn, called over real HTTP."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx
import pytest
from starlette.types import ASGIApp

from okta_bearer import InsufficientScope, TokenVerifier
from okta_bearer.testing import LocalIssuer

from ..helpers import bearer
from ..servers import Server
from .apps import fastapi_app


@pytest.fixture(scope="module")
def server(
    serve: Callable[[ASGIApp], Server], make_verifier: Callable[..., TokenVerifier]
) -> Server:
    """The FastAPI app on uvicorn."""
    return serve(fastapi_app(make_verifier()))


@pytest.fixture
def client(server: Server) -> Iterator[httpx.Client]:
    """An HTTP client for the FastAPI app."""
    with httpx.Client(base_url=server.base_url, trust_env=False, timeout=30) as client:
        yield client


def test_get_claims_dependency(client: httpx.Client, issuer: LocalIssuer) -> None:
    """Security(get_claims) hands the route the verified claims of the request's token."""
    token = issuer.mint(scp=["openid", "items:read"], jti="AT.interop-1")
    response = client.get("/claims", headers=bearer(token))
    assert response.status_code == 200
    assert response.json() == {
        "sub": "alice@example.com",
        "scopes": ["items:read", "openid"],
        "jti": "AT.interop-1",
    }


def test_request_user_in_fastapi(client: httpx.Client, issuer: LocalIssuer) -> None:
    """request.user and request.auth work in FastAPI routes as in Starlette ones."""
    response = client.get("/whoami", headers=bearer(issuer.mint(scp=["items:read"])))
    assert response.status_code == 200
    assert response.json()["authenticated"] is True
    assert response.json()["scopes"] == ["items:read"]


def test_require_scopes_admits_a_token_with_the_scope(
    client: httpx.Client, issuer: LocalIssuer
) -> None:
    """require_scopes("items:read") lets a token holding the scope reach the route."""
    response = client.get("/items", headers=bearer(issuer.mint(scp=["items:read"])))
    assert response.status_code == 200
    assert response.json() == {"items": ["a"], "sub": "alice@example.com"}


@pytest.mark.parametrize(("path", "scope"), [("/items", "items:read"), ("/admin", "admin")])
def test_missing_scope_is_an_rfc6750_403(
    client: httpx.Client, issuer: LocalIssuer, path: str, scope: str
) -> None:
    """require_scopes and Security(scopes=...) answer a missing scope with an RFC 6750 403."""
    token = issuer.mint(scp=["openid"])
    response = client.get(path, headers=bearer(token))
    assert response.status_code == 403
    description = InsufficientScope([scope]).description
    assert response.headers["www-authenticate"] == (
        'Bearer realm="api", error="insufficient_scope", '
        f'error_description="{description}", scope="{scope}"'
    )
    assert response.json()["error"] == "insufficient_scope"
    assert token not in response.text


def test_no_token_is_401_before_any_dependency(client: httpx.Client) -> None:
    """The middleware answers an anonymous request before FastAPI resolves dependencies."""
    response = client.get("/items")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer realm="api"'


def test_public_docs_need_no_token(client: httpx.Client) -> None:
    """Paths listed as public (the OpenAPI document here) are served anonymously."""
    response = client.get("/openapi.json")
    assert response.status_code == 200
    assert "/items" in response.json()["paths"]
