"""BearerAuthMiddleware(resource=...): the served document, challenges and audiences."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from okta_bearer import (
    BearerAuthMiddleware,
    Claims,
    ConfigurationError,
    ProtectedResource,
    TokenVerifier,
)
from okta_bearer.fastapi import require_scopes
from okta_bearer.testing import LocalIssuer

from ..helpers import bearer

pytestmark = pytest.mark.anyio

RESOURCE = "https://api.example/mcp"
METADATA = "https://api.example/.well-known/oauth-protected-resource/mcp"


async def hello(request: Request) -> PlainTextResponse:
    return PlainTextResponse("hello")


def starlette_app(issuer: LocalIssuer, **options: Any) -> BearerAuthMiddleware:
    app = Starlette(routes=[Route("/mcp", hello, methods=["GET", "POST"])])
    options.setdefault("verifier", issuer.verifier(audience=RESOURCE))
    return BearerAuthMiddleware(app, **options)


def client_for(app: Any, *, root_path: str = "") -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, root_path=root_path)
    return httpx.AsyncClient(transport=transport, base_url="https://api.example")


@pytest.fixture
async def client(okta_issuer: LocalIssuer) -> AsyncIterator[httpx.AsyncClient]:
    app = starlette_app(okta_issuer, resource=RESOURCE, required_scopes=["items:read"])
    async with client_for(app) as c:
        yield c


@pytest.mark.parametrize(
    "path", ["/.well-known/oauth-protected-resource/mcp", "/.well-known/oauth-protected-resource"]
)
async def test_document_is_served_without_a_token(
    client: httpx.AsyncClient, okta_issuer: LocalIssuer, path: str
) -> None:
    """Both well-known paths answer 200 with the resource, the issuer and the required scopes."""
    response = await client.get(path)
    assert response.status_code == 200
    assert response.json() == {
        "resource": RESOURCE,
        "authorization_servers": [okta_issuer.issuer],
        "bearer_methods_supported": ["header"],
        "scopes_supported": ["items:read"],
    }
    assert response.headers["cache-control"] == "public, max-age=3600"


async def test_head_and_post_on_the_document(client: httpx.AsyncClient) -> None:
    """HEAD is answered like GET without a body; POST is 405."""
    head = await client.head("/.well-known/oauth-protected-resource/mcp")
    post = await client.post("/.well-known/oauth-protected-resource/mcp")
    assert (head.status_code, head.content) == (200, b"")
    assert post.status_code == 405


async def test_host_headers_change_nothing(client: httpx.AsyncClient) -> None:
    """Host and X-Forwarded-* never reach the document or the challenge's metadata URL."""
    spoof = {
        "host": "evil.example",
        "x-forwarded-host": "evil.example",
        "x-forwarded-proto": "http",
    }
    doc = await client.get("/.well-known/oauth-protected-resource/mcp", headers=spoof)
    denied = await client.get("/mcp", headers=spoof)
    assert doc.json()["resource"] == RESOURCE
    assert "evil" not in doc.text
    assert f'resource_metadata="{METADATA}"' in denied.headers["www-authenticate"]


async def test_missing_token_challenge_names_metadata_and_scopes(client: httpx.AsyncClient) -> None:
    """A 401 without a token points at the metadata and names the scopes to ask for."""
    response = await client.get("/mcp")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == (
        f'Bearer realm="api", scope="items:read", resource_metadata="{METADATA}"'
    )


async def test_invalid_token_challenge_names_metadata(
    client: httpx.AsyncClient, okta_issuer: LocalIssuer
) -> None:
    """A 401 invalid_token carries resource_metadata too."""
    response = await client.get("/mcp", headers=bearer(okta_issuer.mint(exp=1)))
    challenge = response.headers["www-authenticate"]
    assert response.status_code == 401
    assert challenge.startswith('Bearer realm="api", error="invalid_token"')
    assert challenge.endswith(f'scope="items:read", resource_metadata="{METADATA}"')


async def test_bare_challenges_keep_the_metadata(okta_issuer: LocalIssuer) -> None:
    """With error_details off the challenge keeps resource_metadata (discovery, not detail)."""
    app = starlette_app(okta_issuer, resource=RESOURCE, error_details=False)
    async with client_for(app) as c:
        response = await c.get("/mcp", headers=bearer(okta_issuer.mint(exp=1)))
    assert response.headers["www-authenticate"] == (
        f'Bearer realm="api", resource_metadata="{METADATA}"'
    )


async def test_without_resource_challenges_are_unchanged(okta_issuer: LocalIssuer) -> None:
    """No resource configured: no metadata served, no resource_metadata, no 401 scope."""
    app = starlette_app(okta_issuer, required_scopes=["items:read"])
    async with client_for(app) as c:
        denied = await c.get("/mcp")
        doc = await c.get("/.well-known/oauth-protected-resource/mcp")
    assert denied.headers["www-authenticate"] == 'Bearer realm="api"'
    assert doc.status_code == 401


async def test_403_names_every_scope_the_route_needs(okta_issuer: LocalIssuer) -> None:
    """A missing route scope: the 403's one scope parameter has the middleware's and the route's."""
    api = FastAPI()

    @api.post("/mcp")
    async def write(claims: Claims = require_scopes("items:write")) -> str:
        return "ok"

    api.add_middleware(
        BearerAuthMiddleware,
        verifier=okta_issuer.verifier(audience=RESOURCE),
        resource=RESOURCE,
        required_scopes=["items:read"],
    )
    async with client_for(api) as c:
        token = okta_issuer.mint(aud=RESOURCE, scp=["items:read"])
        response = await c.post("/mcp", headers=bearer(token))
    assert response.status_code == 403
    assert response.headers["www-authenticate"] == (
        'Bearer realm="api", error="insufficient_scope", '
        'error_description="The token lacks a required scope", '
        f'scope="items:read items:write", resource_metadata="{METADATA}"'
    )


@pytest.mark.parametrize(
    ("root_path", "path"),
    [
        ("/api", "/api/.well-known/oauth-protected-resource/api/mcp"),
        ("/api", "/.well-known/oauth-protected-resource/api/mcp"),
        ("", "/.well-known/oauth-protected-resource/api/mcp"),
    ],
)
async def test_document_behind_root_path(
    okta_issuer: LocalIssuer, root_path: str, path: str
) -> None:
    """Under root_path (with or without it in scope['path']) the path-inserted URL is served."""
    resource = "https://api.example/api/mcp"
    app = starlette_app(okta_issuer, resource=resource)
    async with client_for(app, root_path=root_path) as c:
        response = await c.get(path)
        denied = await c.get(f"{root_path}/mcp")
    assert response.status_code == 200
    assert response.json()["resource"] == resource
    expected = "https://api.example/.well-known/oauth-protected-resource/api/mcp"
    assert f'resource_metadata="{expected}"' in denied.headers["www-authenticate"]


async def test_metadata_object_options_are_served(okta_issuer: LocalIssuer) -> None:
    """A ProtectedResource with its own servers and name is served as configured."""
    meta = ProtectedResource(
        RESOURCE,
        authorization_servers=[okta_issuer.issuer],
        resource_name="Items",
        max_age=60,
    )
    app = starlette_app(okta_issuer, resource=meta)
    async with client_for(app) as c:
        response = await c.get("/.well-known/oauth-protected-resource/mcp")
    assert response.json()["authorization_servers"] == [okta_issuer.issuer]
    assert response.json()["resource_name"] == "Items"
    assert response.headers["cache-control"] == "public, max-age=60"


def test_built_verifier_accepts_the_resource_as_audience() -> None:
    """With issuer= the middleware's own verifier accepts the resource besides any audience."""
    app = Starlette()
    only = BearerAuthMiddleware(app, issuer="https://okta.example.test", resource=RESOURCE)
    both = BearerAuthMiddleware(
        app, issuer="https://okta.example.test", audience="api://default", resource=RESOURCE
    )
    assert isinstance(only.verifier, TokenVerifier)
    assert isinstance(both.verifier, TokenVerifier)
    assert list(only.verifier.audiences) == [RESOURCE]
    assert list(both.verifier.audiences) == ["api://default", RESOURCE]


def test_bad_resource_option_is_a_configuration_error(okta_issuer: LocalIssuer) -> None:
    """resource= must be a URL or a ProtectedResource, checked at construction."""
    with pytest.raises(ConfigurationError, match="resource"):
        starlette_app(okta_issuer, resource="http://api.example/mcp")
    with pytest.raises(ConfigurationError, match="resource"):
        starlette_app(okta_issuer, resource=42)


@pytest.mark.parametrize(
    "aud",
    [
        "https://api.example",
        "https://api.example/",
        "https://api.example/mcp/",
        "https://api.example/mcp/other",
        "https://api.example/mc",
        "https://API.example/mcp",
        "http://api.example/mcp",
        ["https://api.example/mcp/other", "https://api.example"],
    ],
)
async def test_audience_is_the_exact_identifier(okta_issuer: LocalIssuer, aud: object) -> None:
    """RFC 8707: origin, parent, child, sibling, case or scheme variants of the resource are 401."""
    app = starlette_app(okta_issuer, resource=RESOURCE)
    async with client_for(app) as c:
        refused = await c.get("/mcp", headers=bearer(okta_issuer.mint(aud=aud)))
        accepted = await c.get("/mcp", headers=bearer(okta_issuer.mint(aud=RESOURCE)))
    assert refused.status_code == 401
    assert 'error="invalid_token"' in refused.headers["www-authenticate"]
    assert accepted.status_code == 200
