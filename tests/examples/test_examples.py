"""The example API, the Starlette example and the SPA server, in-process."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from okta_bearer._cli import examples_dir, load_example
from okta_bearer.testing import LocalIssuer

pytestmark = pytest.mark.anyio

SPA_ORIGIN = "http://127.0.0.1:9402"
API = "http://127.0.0.1:9401"


@pytest.fixture
async def api(okta_issuer: LocalIssuer) -> AsyncIterator[httpx.AsyncClient]:
    """A client for examples/api.py, its verifier fed by the in-memory issuer."""
    module = load_example("api")
    async with okta_issuer.verifier() as verifier:
        app = module.create_app(
            issuer=okta_issuer.issuer,
            audience=okta_issuer.audience,
            client_id="0oademo",
            spa_origins=[SPA_ORIGIN],
            verifier=verifier,
        )
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=API) as client:
            yield client


def bearer(token: str) -> dict[str, str]:
    """Authorization and Origin headers, as the SPA sends them."""
    return {"authorization": f"Bearer {token}", "origin": SPA_ORIGIN}


async def test_preflight_from_the_spa_passes(api: httpx.AsyncClient) -> None:
    """A CORS preflight from the SPA origin is answered 200 allowing Authorization."""
    response = await api.options(
        "/api/whoami",
        headers={
            "origin": SPA_ORIGIN,
            "access-control-request-method": "GET",
            "access-control-request-headers": "authorization",
        },
    )
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == SPA_ORIGIN
    assert "authorization" in response.headers["access-control-allow-headers"].lower()


async def test_preflight_from_another_origin_fails(api: httpx.AsyncClient) -> None:
    """Another origin's preflight gets no CORS permission."""
    response = await api.options(
        "/api/whoami",
        headers={"origin": "https://evil.example", "access-control-request-method": "GET"},
    )
    assert response.status_code == 400
    assert "access-control-allow-origin" not in response.headers


async def test_options_without_a_token_is_refused(api: httpx.AsyncClient) -> None:
    """An OPTIONS that is not a preflight passes CORS and the bearer middleware refuses it."""
    response = await api.options("/api/items", headers={"origin": SPA_ORIGIN})
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert response.headers["access-control-allow-origin"] == SPA_ORIGIN


async def test_whoami_returns_claims(api: httpx.AsyncClient, okta_issuer: LocalIssuer) -> None:
    """A token with items:read gets its claims, with CORS headers for the SPA."""
    response = await api.get("/api/whoami", headers=bearer(okta_issuer.mint()))
    assert response.status_code == 200
    body = response.json()
    assert body["sub"] == "alice@example.com"
    assert "items:read" in body["scopes"]
    assert response.headers["access-control-allow-origin"] == SPA_ORIGIN


@pytest.mark.parametrize(
    ("token_claims", "status", "challenge"),
    [
        (None, 401, 'Bearer realm="api"'),
        ({"exp": 1}, 401, 'error="invalid_token"'),
        ({"scp": ["openid"]}, 403, 'error="insufficient_scope"'),
    ],
)
async def test_errors_carry_cors_and_expose_the_challenge(
    api: httpx.AsyncClient,
    okta_issuer: LocalIssuer,
    token_claims: dict[str, Any] | None,
    status: int,
    challenge: str,
) -> None:
    """401 and 403 answers carry CORS headers and expose WWW-Authenticate to the SPA."""
    headers = {"origin": SPA_ORIGIN}
    if token_claims is not None:
        headers = bearer(okta_issuer.mint(**token_claims))
    response = await api.get("/api/whoami", headers=headers)
    assert response.status_code == status
    assert challenge in response.headers["www-authenticate"]
    assert response.headers["access-control-allow-origin"] == SPA_ORIGIN
    assert "www-authenticate" in response.headers["access-control-expose-headers"].lower()


async def test_write_needs_items_write(api: httpx.AsyncClient, okta_issuer: LocalIssuer) -> None:
    """POST /api/items is 403 naming items:write without it, 201 with it."""
    denied = await api.post("/api/items", json={"name": "x"}, headers=bearer(okta_issuer.mint()))
    assert denied.status_code == 403
    assert 'scope="items:write"' in denied.headers["www-authenticate"]
    token = okta_issuer.mint(scp=["items:write"])
    created = await api.post("/api/items", json={"name": "x"}, headers=bearer(token))
    assert created.status_code == 201
    assert created.json() == {"name": "x", "owner": "alice@example.com"}


async def test_the_example_routes_check_scopes_on_the_route(okta_issuer: LocalIssuer) -> None:
    """Every scope-checked route of the example API is an OktaBearerRoute (the fast path)."""
    from fastapi.routing import APIRoute

    from okta_bearer.fastapi import OktaBearerRoute

    module = load_example("api")
    async with okta_issuer.verifier() as verifier:
        app = module.create_app(
            issuer=okta_issuer.issuer, audience=okta_issuer.audience, verifier=verifier
        )
    api_routes = {r.path: type(r) for r in app.routes if isinstance(r, APIRoute)}
    assert api_routes["/api/items"] is OktaBearerRoute
    assert api_routes["/api/whoami"] is OktaBearerRoute


async def test_docs_are_self_hosted(api: httpx.AsyncClient) -> None:
    """/docs loads Swagger UI from the API itself (no CDN), and its assets are served."""
    docs = await api.get("/docs")
    assert docs.status_code == 200
    assert "cdn.jsdelivr" not in docs.text
    assert "/docs-assets/swagger-ui-bundle.js" in docs.text
    assert '"clientId": "0oademo"' in docs.text
    bundle = await api.get("/docs-assets/swagger-ui-bundle.js")
    assert bundle.status_code == 200
    assert len(bundle.content) > 100_000
    assert (await api.get("/docs-assets/swagger-ui.css")).status_code == 200
    assert (await api.get("/docs/oauth2-redirect")).status_code == 200


async def test_openapi_offers_the_implicit_flow(
    api: httpx.AsyncClient, okta_issuer: LocalIssuer
) -> None:
    """The OpenAPI scheme points Swagger UI's Authorize at the issuer's /v1/authorize."""
    schema = (await api.get("/openapi.json")).json()
    scheme = schema["components"]["securitySchemes"]["OktaBearer"]
    implicit = scheme["flows"]["implicit"]
    assert implicit["authorizationUrl"] == f"{okta_issuer.issuer}/v1/authorize"
    assert set(implicit["scopes"]) == {"openid", "items:read", "items:write"}
    whoami = schema["paths"]["/api/whoami"]["get"]
    # DPoP is allowed too, so it is documented as the alternative requirement:
    # the token and the proof header, both as apiKey headers Swagger UI can fill in.
    assert whoami["security"] == [{"OktaBearer": ["items:read"]}, {"DPoP": [], "DPoPProof": []}]
    schemes = schema["components"]["securitySchemes"]
    assert schemes["DPoP"] == {**schemes["DPoP"], "type": "apiKey", "in": "header"}
    assert schemes["DPoP"]["name"] == "Authorization"
    assert schemes["DPoPProof"]["name"] == "DPoP"
    assert "ES256" in schemes["DPoPProof"]["description"]


async def test_openapi_documents_the_refusals(api: httpx.AsyncClient) -> None:
    """protect() documents 401/403 on protected operations and none on the public one."""
    paths = (await api.get("/openapi.json")).json()["paths"]
    assert {"401", "403"} <= set(paths["/api/items"]["post"]["responses"])
    assert "401" not in paths["/api/public"]["get"]["responses"]


async def test_starlette_example_uses_requires(okta_issuer: LocalIssuer) -> None:
    """The Starlette example: public health, 401 without a token, @requires gives 403 or 200."""
    module = load_example("starlette_app")
    async with okta_issuer.verifier() as verifier:
        app = module.create_app(
            issuer=okta_issuer.issuer, audience=okta_issuer.audience, verifier=verifier
        )
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=API) as client:
            assert (await client.get("/health")).status_code == 200
            assert (await client.get("/items")).status_code == 401
            token = {"authorization": f"Bearer {okta_issuer.mint()}"}
            items = await client.get("/items", headers=token)
            assert items.status_code == 200
            assert items.json()["caller"] == "alice@example.com"
            assert (await client.post("/items", headers=token)).status_code == 403
            writer = {"authorization": f"Bearer {okta_issuer.mint(scp=['items:write'])}"}
            assert (await client.post("/items", headers=writer)).status_code == 201


async def test_spa_server_serves_page_and_config() -> None:
    """The SPA server serves the page with a strict CSP and its config as JSON."""
    module = load_example("spa_server")
    app = module.create_app(
        issuer="http://127.0.0.1:9400/oauth2/default/", client_id="0oademo", api_base=API
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=SPA_ORIGIN) as client:
        page = await client.get("/")
        assert page.status_code == 200
        assert '<script src="/app.js"' in page.text
        csp = page.headers["content-security-policy"]
        assert "script-src 'self'" in csp
        assert f"connect-src 'self' {API} http://127.0.0.1:9400" in csp
        assert (await client.get("/app.js")).headers["content-type"].startswith("text/javascript")
        config = (await client.get("/config.json")).json()
        assert config == {
            "issuer": "http://127.0.0.1:9400/oauth2/default",
            "clientId": "0oademo",
            "apiBase": API,
            "scopes": "openid profile email items:read",
        }
        assert (await client.get("/../api.py")).status_code == 404


def test_spa_keeps_tokens_out_of_storage() -> None:
    """The SPA script draws state/nonce from crypto.getRandomValues and never uses localStorage."""
    script = (examples_dir() / "spa" / "app.js").read_text()
    assert "crypto.getRandomValues" in script
    assert "history.replaceState" in script
    assert re.search(r"localStorage\s*[.\[]", script) is None
    assert re.search(r"sessionStorage\.setItem\([^)]*oken", script) is None
    assert "sessionStorage.setItem(PENDING_KEY" in script


def test_examples_readme_documents_real_okta() -> None:
    """examples/README.md says how to point the examples at a real Okta org."""
    text = (examples_dir() / "README.md").read_text()
    for name in ("OKTA_ISSUER", "OKTA_AUDIENCE", "OKTA_CLIENT_ID", "okta-bearer demo"):
        assert name in text
