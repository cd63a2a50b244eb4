"""The RFC 9728 document says what the deployment does: issuers, scopes, DPoP (section 2)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from mcp.server.mcpserver import MCPServer
from starlette.types import ASGIApp

from okta_bearer import (
    BearerAuthMiddleware,
    ConfigurationError,
    DPoPSettings,
    IntrospectionVerifier,
    MultiIssuerVerifier,
    ProtectedResource,
    TokenShapeVerifier,
)
from okta_bearer.fastapi import protect
from okta_bearer.mcp import ToolScopes
from okta_bearer.testing import LocalIssuer

pytestmark = pytest.mark.anyio

RESOURCE = "https://api.example/mcp"
A = "https://tenant-a.okta.example/oauth2/default"
B = "https://tenant-b.example/oauth2/aus1"
C = "https://opaque.example/oauth2/default"


def multi() -> MultiIssuerVerifier:
    """Two JWT issuers and an introspected third one for opaque tokens."""
    return MultiIssuerVerifier(
        [LocalIssuer(A).verifier(audience=RESOURCE), LocalIssuer(B).verifier(audience=RESOURCE)],
        opaque=introspection(),
    )


def introspection() -> IntrospectionVerifier:
    return IntrospectionVerifier(
        C, RESOURCE, client_id="rs", client_secret="s", introspection_endpoint=C + "/v1/introspect"
    )


async def document(app: ASGIApp) -> dict[str, Any]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="https://api.example") as c:
        response = await c.get("/.well-known/oauth-protected-resource/mcp")
    assert response.status_code == 200
    found: dict[str, Any] = response.json()
    return found


def middleware(**options: Any) -> BearerAuthMiddleware:
    options.setdefault("verifier", multi())
    options.setdefault("resource", RESOURCE)
    return BearerAuthMiddleware(ToolScopes(MCPServer("t").streamable_http_app(), {}), **options)


async def test_every_issuer_of_a_multi_issuer_verifier_is_named() -> None:
    """Under MultiIssuerVerifier the document names each configured issuer and the opaque one."""
    doc = await document(middleware())
    assert doc["authorization_servers"] == [A, B, C]


async def test_token_shape_verifier_names_both_sides() -> None:
    """TokenShapeVerifier: the JWT side's issuers, then the introspection issuer, once each."""
    both = TokenShapeVerifier(multi(), introspection())
    assert (await document(middleware(verifier=both)))["authorization_servers"] == [A, B, C]
    only_opaque = TokenShapeVerifier(
        LocalIssuer(A).verifier(), introspection(), introspect_jwts=True
    )
    doc = await document(middleware(verifier=only_opaque))
    assert doc["authorization_servers"] == [C]


def test_accepted_issuers_is_public() -> None:
    """MultiIssuerVerifier.accepted_issuers lists what the document will advertise."""
    assert multi().accepted_issuers == (A, B, C)
    assert multi().issuers == (A, B)  # the routed JWT issuers, as before


async def test_dpop_allowed_advertises_the_settings_algorithms() -> None:
    """With dpop= in allowed mode the proof algorithms are advertised, binding not required."""
    dpop = DPoPSettings(mode="allowed", algorithms=("ES256", "EdDSA"))
    doc = await document(middleware(dpop=dpop))
    assert doc["dpop_signing_alg_values_supported"] == ["ES256", "EdDSA"]
    assert "dpop_bound_access_tokens_required" not in doc


async def test_dpop_required_says_bound_tokens_are_required() -> None:
    """In required mode the document says dpop_bound_access_tokens_required: true."""
    doc = await document(middleware(dpop=DPoPSettings(mode="required")))
    assert doc["dpop_bound_access_tokens_required"] is True
    assert doc["dpop_signing_alg_values_supported"] == list(DPoPSettings().algorithms)


async def test_dpop_bearer_mode_and_no_dpop_advertise_nothing_about_dpop() -> None:
    """Where the DPoP scheme is not accepted, the document does not offer it."""
    for options in ({}, {"dpop": DPoPSettings(mode="bearer")}):
        doc = await document(middleware(**options))
        assert "dpop_signing_alg_values_supported" not in doc
        assert "dpop_bound_access_tokens_required" not in doc


async def test_fastapi_protect_and_the_mcp_path_serve_the_same_document() -> None:
    """protect() and a middleware in front of an MCP app, same options: byte-equal documents."""
    options: dict[str, Any] = {
        "resource": ProtectedResource(RESOURCE, resource_name="Items"),
        "required_scopes": ["items:read"],
        "dpop": DPoPSettings(mode="required"),
    }
    app = FastAPI()
    protect(app, multi(), **options)
    from_fastapi = await document(app)
    from_mcp = await document(middleware(verifier=multi(), **options))
    assert from_fastapi == from_mcp
    assert from_mcp["authorization_servers"] == [A, B, C]
    assert from_mcp["scopes_supported"] == ["items:read"]
    assert from_mcp["dpop_bound_access_tokens_required"] is True


async def test_listed_scopes_come_first_and_required_ones_are_added() -> None:
    """scopes_supported keeps the configured list and adds the required scopes it lacks."""
    resource = ProtectedResource(RESOURCE, scopes_supported=["profile", "items:read"])
    doc = await document(middleware(resource=resource, required_scopes=["items:read", "x"]))
    assert doc["scopes_supported"] == ["profile", "items:read", "x"]


async def test_a_subset_of_the_issuers_may_be_advertised() -> None:
    """An explicit authorization_servers may name fewer issuers than the verifier accepts."""
    doc = await document(
        middleware(resource=ProtectedResource(RESOURCE, authorization_servers=[B]))
    )
    assert doc["authorization_servers"] == [B]


@pytest.mark.parametrize(
    ("resource", "options", "words"),
    [
        (
            ProtectedResource(RESOURCE, authorization_servers=["https://stranger.example"]),
            {},
            "authorization_servers",
        ),
        (
            ProtectedResource(RESOURCE, dpop_signing_alg_values_supported=["RS256"]),
            {"dpop": DPoPSettings(algorithms=("ES256",))},
            "dpop_signing_alg_values_supported",
        ),
        (
            ProtectedResource(RESOURCE, dpop_signing_alg_values_supported=["ES256"]),
            {},
            "dpop_signing_alg_values_supported",
        ),
        (
            ProtectedResource(RESOURCE, dpop_bound_access_tokens_required=True),
            {"dpop": DPoPSettings(mode="allowed")},
            "dpop_bound_access_tokens_required",
        ),
    ],
)
def test_a_document_contradicting_the_configuration_is_refused(
    resource: ProtectedResource, options: dict[str, Any], words: str
) -> None:
    """Members set by hand that the deployment contradicts are a ConfigurationError naming them."""
    with pytest.raises(ConfigurationError, match=words):
        middleware(resource=resource, **options)


async def test_matching_hand_set_dpop_members_are_kept() -> None:
    """Hand-set DPoP members that agree with dpop= are served as set."""
    resource = ProtectedResource(
        RESOURCE,
        dpop_signing_alg_values_supported=["ES256"],
        dpop_bound_access_tokens_required=True,
    )
    doc = await document(
        middleware(resource=resource, dpop=DPoPSettings(mode="required", algorithms=("ES256",)))
    )
    assert doc["dpop_signing_alg_values_supported"] == ["ES256"]
    assert doc["dpop_bound_access_tokens_required"] is True


def test_dpop_members_are_checked_at_construction() -> None:
    """ProtectedResource refuses 'none', an empty list and a non-boolean requirement."""
    for bad in (["none"], []):
        with pytest.raises(ConfigurationError, match="dpop_signing_alg_values_supported"):
            ProtectedResource(RESOURCE, dpop_signing_alg_values_supported=bad)
    with pytest.raises(ConfigurationError, match="dpop_bound_access_tokens_required"):
        ProtectedResource(RESOURCE, dpop_bound_access_tokens_required=1)  # type: ignore[arg-type]


async def test_a_built_verifier_names_its_issuer() -> None:
    """issuer= builds a TokenVerifier; the document names that issuer, as before."""
    app = ToolScopes(MCPServer("t").streamable_http_app(), {})
    doc = await document(BearerAuthMiddleware(app, issuer=A, audience=RESOURCE, resource=RESOURCE))
    assert doc["authorization_servers"] == [A]


class _Nameless:
    """A Verifier that names no issuer (a custom one)."""

    async def verify(self, token: str, required_scopes: Any = ()) -> Any:
        raise AssertionError("not called")

    async def aclose(self) -> None:
        return None


async def test_no_known_issuer_omits_authorization_servers() -> None:
    """A verifier naming no issuer: the member is left out, never an empty list."""
    doc = await document(middleware(verifier=_Nameless()))
    assert "authorization_servers" not in doc
    assert doc["resource"] == RESOURCE
