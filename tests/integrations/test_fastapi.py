"""FastAPI: claims by dependency injection, scope checks and the OpenAPI security scheme."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import Depends, FastAPI, Security

from okta_bearer import Claims, ConfigurationError
from okta_bearer.fastapi import configure_openapi, get_claims, protect, require_scopes
from okta_bearer.testing import LocalIssuer

from ..helpers import bearer

pytestmark = pytest.mark.anyio


def build(issuer: LocalIssuer, **options: Any) -> FastAPI:
    app = FastAPI()
    protect(app, issuer.verifier(), **options)

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
    app = build(okta_issuer)
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
        "missing_scope": "items:write",
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


async def test_swagger_ui_prefills_client_but_ticks_no_scope(client: httpx.AsyncClient) -> None:
    """Swagger UI gets the client id, and no scope is pre-ticked in its Authorize dialog."""
    html = (await client.get("/docs")).text
    assert '"clientId": "0oa-spa"' in html
    assert '"scopes"' not in html


async def test_protect_keeps_the_app_docs_public(okta_issuer: LocalIssuer) -> None:
    """protect() serves the app's own docs, OpenAPI and OAuth2 redirect paths without a token."""
    app = FastAPI(docs_url="/api/docs", openapi_url="/api/openapi.json", redoc_url=None)
    protect(app, okta_issuer.verifier(), public_paths=["/health"])

    @app.get("/health")
    async def health() -> str:
        return "ok"

    @app.get("/items")
    async def items(claims: Claims = require_scopes("items:read")) -> str:
        return "items"

    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://api"
    ) as c:
        statuses = {
            path: (await c.get(path)).status_code
            for path in ("/api/docs", "/api/openapi.json", "/docs/oauth2-redirect", "/health")
        }
        assert (await c.get("/items")).status_code == 401
        assert (await c.get("/docs")).status_code == 401
    assert statuses == {
        "/api/docs": 200,
        "/api/openapi.json": 200,
        "/docs/oauth2-redirect": 200,
        "/health": 200,
    }


def test_protect_raises_configuration_errors_at_once() -> None:
    """protect() with a wrong option raises ConfigurationError when called, not at start-up."""
    with pytest.raises(ConfigurationError, match="audience"):
        protect(FastAPI(), issuer="https://dev-1.okta.com/oauth2/default")


async def test_protect_inside_an_event_loop_still_raises() -> None:
    """protect() raises a configuration mistake at once even when called from async code."""
    with pytest.raises(ConfigurationError, match="public_paths"):
        protect(FastAPI(), issuer="https://a.example", audience="a", public_paths="/x")


BODY = {"application/json": {"schema": {"$ref": "#/components/schemas/BearerError"}}}
CHALLENGE = {
    "WWW-Authenticate": {
        "description": "The Bearer challenge (RFC 6750 section 3).",
        "schema": {"type": "string"},
    }
}


async def test_openapi_documents_refusals(client: httpx.AsyncClient) -> None:
    """Protected operations list 400/401/403/503 with the RFC 6750 body; unscoped ones skip 403."""
    schema = (await client.get("/openapi.json")).json()
    responses = schema["paths"]["/items"]["get"]["responses"]
    assert {k: v for k, v in responses.items() if k != "200"} == {
        "400": {
            "description": "Malformed Authorization header (invalid_request).",
            "headers": CHALLENGE,
            "content": BODY,
        },
        "401": {
            "description": "No access token, or an invalid one (invalid_token).",
            "headers": CHALLENGE,
            "content": BODY,
        },
        "403": {
            "description": "The token lacks a required scope (insufficient_scope).",
            "headers": CHALLENGE,
            "content": BODY,
        },
        "503": {
            "description": "The issuer's signing keys cannot be obtained; retry later.",
            "headers": {
                "Retry-After": {"description": "Seconds to wait.", "schema": {"type": "integer"}}
            },
            "content": BODY,
        },
    }
    assert "403" not in schema["paths"]["/me"]["get"]["responses"]
    assert schema["components"]["schemas"]["BearerError"]["required"] == [
        "error",
        "error_description",
    ]
    assert set(schema["components"]["schemas"]["BearerError"]["properties"]) == {
        "error",
        "error_description",
        "missing_scope",
    }


async def test_openapi_marks_every_protected_route(okta_issuer: LocalIssuer) -> None:
    """A route without get_claims is still protected by the middleware, and the document says so."""
    app = FastAPI()
    protect(app, okta_issuer.verifier(), public_paths=["/health"])

    @app.get("/plain")
    async def plain() -> str:
        return "needs a token anyway"

    @app.get("/health")
    async def health() -> str:
        return "ok"

    schema = app.openapi()
    assert schema["paths"]["/plain"]["get"]["security"] == [{"OktaBearer": []}]
    assert "401" in schema["paths"]["/plain"]["get"]["responses"]
    assert "security" not in schema["paths"]["/health"]["get"]
    assert "401" not in schema["paths"]["/health"]["get"]["responses"]
    assert schema["components"]["securitySchemes"]["OktaBearer"]["type"] == "oauth2"


async def test_openapi_in_optional_mode_marks_only_claim_routes(okta_issuer: LocalIssuer) -> None:
    """In optional mode only routes that need the claims are documented as protected."""
    app = build(okta_issuer, optional=True)

    @app.get("/anyone")
    async def anyone() -> str:
        return "anonymous welcome"

    schema = app.openapi()
    assert "security" not in schema["paths"]["/anyone"]["get"]
    assert "401" not in schema["paths"]["/anyone"]["get"]["responses"]
    assert "401" in schema["paths"]["/me"]["get"]["responses"]


async def test_app_declared_responses_are_kept(okta_issuer: LocalIssuer) -> None:
    """A 401 the route documents itself is not overwritten."""
    app = FastAPI()
    protect(app, okta_issuer.verifier())

    @app.get("/own", responses={401: {"description": "Our own words"}})
    async def own() -> str:
        return "x"

    assert app.openapi()["paths"]["/own"]["get"]["responses"]["401"] == {
        "description": "Our own words"
    }


async def test_require_scopes_works_under_a_generator_dependency(okta_issuer: LocalIssuer) -> None:
    """require_scopes, declared request-scoped for speed, may sit under a yield dependency."""
    app = FastAPI()
    protect(app, okta_issuer.verifier())
    events: list[str] = []

    async def session(claims: Claims = require_scopes("items:read")) -> AsyncIterator[str]:
        events.append("open")
        yield str(claims.sub)
        events.append("close")

    @app.get("/items")
    async def items(who: str = Depends(session)) -> dict[str, str]:
        return {"who": who}

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as c:
        ok = await c.get("/items", headers=bearer(okta_issuer.mint()))
        refused = await c.get("/items", headers=bearer(okta_issuer.mint(scp=["openid"])))
    assert ok.status_code == 200
    assert ok.json() == {"who": "alice@example.com"}
    assert refused.status_code == 403
    assert events == ["open", "close"]
