"""FastAPI: claims by dependency injection, scope checks and the OpenAPI security scheme."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import Depends, FastAPI, Security

from okta_bearer import BearerAuthMiddleware, Claims
from okta_bearer.fastapi import configure_openapi, get_claims, require_scopes
from okta_bearer.testing import LocalIssuer

from ..helpers import bearer

pytestmark = pytest.mark.anyio


def build(issuer: LocalIssuer, **options: Any) -> FastAPI:
    app = FastAPI()
    app.add_middleware(BearerAuthMiddleware, verifier=issuer.verifier(), **options)

    @app.get("/me")
    async def me(claims: Claims = Depends(get_claims)) -> dict[str, object]:
        return {"sub": claims.sub, "cid": claims.client_id}

    @app.get("/items")
    async def items(claims: Claims = require_scopes("items:read")) -> dict[str, object]:
        return {"sub": claims.sub}

    @app.get("/write", dependencies=[require_scopes("items:write")])
    async def write() -> dict[str, object]:
        return {"written": True}

    @app.get("/security")
    async def security(
        claims: Claims = Security(get_claims, scopes=["items:admin"]),
    ) -> dict[str, object]:
        return {"sub": claims.sub}

    configure_openapi(
        app,
        issuer=issuer.issuer,
        scopes={"items:read": "Read items", "items:write": "Write items"},
        client_id="0oa-spa",
    )
    return app


@pytest.fixture
async def client(okta_issuer: LocalIssuer) -> AsyncIterator[httpx.AsyncClient]:
    app = build(okta_issuer, public_paths=["/docs", "/openapi.json"])
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://api"
    ) as c:
        yield c


async def test_get_claims(client: httpx.AsyncClient, okta_issuer: LocalIssuer) -> None:
    """get_claims injects the verified claims."""
    response = await client.get("/me", headers=bearer(okta_issuer.mint()))
    assert response.json() == {"sub": "alice@example.com", "cid": okta_issuer.client_id}


async def test_require_scopes_allows_and_denies(
    client: httpx.AsyncClient, okta_issuer: LocalIssuer
) -> None:
    """require_scopes passes tokens holding the scope and answers RFC 6750 403 otherwise."""
    assert (await client.get("/items", headers=bearer(okta_issuer.mint()))).status_code == 200
    denied = await client.get("/write", headers=bearer(okta_issuer.mint()))
    assert denied.status_code == 403
    assert denied.headers["www-authenticate"] == (
        'Bearer realm="api", error="insufficient_scope", '
        'error_description="The token lacks a required scope", scope="items:write"'
    )
    assert denied.json() == {
        "error": "insufficient_scope",
        "error_description": "The token lacks a required scope",
    }


async def test_security_with_scopes(client: httpx.AsyncClient, okta_issuer: LocalIssuer) -> None:
    """Security(get_claims, scopes=[...]) checks scopes the FastAPI way."""
    assert (await client.get("/security", headers=bearer(okta_issuer.mint()))).status_code == 403
    allowed = await client.get("/security", headers=bearer(okta_issuer.mint(scp=["items:admin"])))
    assert allowed.status_code == 200


async def test_invalid_token_is_401_before_scopes(
    client: httpx.AsyncClient, okta_issuer: LocalIssuer
) -> None:
    """An invalid token on a scoped route is a 401, never a 403."""
    response = await client.get(
        "/write", headers=bearer(okta_issuer.mint(iss="https://other.example"))
    )
    assert response.status_code == 401


async def test_anonymous_in_optional_mode_gets_bare_401(okta_issuer: LocalIssuer) -> None:
    """In optional mode, a route depending on get_claims answers an anonymous caller with 401."""
    app = build(okta_issuer, optional=True)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://api"
    ) as c:
        response = await c.get("/me")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer realm="api"'


async def test_without_middleware_fails_loudly(okta_issuer: LocalIssuer) -> None:
    """Using get_claims without the middleware is a wiring error, not an open door."""
    app = FastAPI()

    @app.get("/me")
    async def me(claims: Claims = Depends(get_claims)) -> str:
        return "should not happen"

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=True)
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as c:
        with pytest.raises(RuntimeError, match="BearerAuthMiddleware"):
            await c.get("/me", headers=bearer(okta_issuer.mint()))


async def test_openapi_security_scheme(client: httpx.AsyncClient, okta_issuer: LocalIssuer) -> None:
    """The OpenAPI document declares the implicit flow at the issuer, and each route's scopes."""
    schema = (await client.get("/openapi.json")).json()
    assert schema["components"]["securitySchemes"]["OktaBearer"] == {
        "type": "oauth2",
        "description": "Okta access token (Authorization: Bearer)",
        "flows": {
            "implicit": {
                "authorizationUrl": f"{okta_issuer.issuer}/v1/authorize",
                "scopes": {"items:read": "Read items", "items:write": "Write items"},
            }
        },
    }
    paths = schema["paths"]
    assert paths["/items"]["get"]["security"] == [{"OktaBearer": ["items:read"]}]
    assert paths["/write"]["get"]["security"] == [{"OktaBearer": ["items:write"]}]
    assert paths["/me"]["get"]["security"] == [{"OktaBearer": []}]


async def test_swagger_ui_prefills_client(client: httpx.AsyncClient) -> None:
    """Swagger UI is told the client id so its Authorize button can run the implicit flow."""
    html = (await client.get("/docs")).text
    assert '"clientId": "0oa-spa"' in html
