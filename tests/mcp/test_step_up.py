"""Per-tool step-up (RFC 9470): ToolRequirement in ToolScopes, answered before the tool runs."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from starlette.middleware.cors import CORSMiddleware

from okta_bearer import BearerAuthMiddleware, ConfigurationError, ProtectedResource
from okta_bearer.mcp import ToolRequirement, ToolScopes
from okta_bearer.testing import LocalIssuer

from ..helpers import bearer
from .echo import RESOURCE, Echo, call, protected

pytestmark = pytest.mark.anyio

METADATA = "https://api.example/.well-known/oauth-protected-resource/mcp"
TWO_FACTOR = "urn:okta:loa:2fa:any"
NOW = 1_800_000_000.0

TOOLS: dict[str, Any] = {
    "add_item": ["items:write"],
    "wipe": ToolRequirement(["items:write"], acr_values=[TWO_FACTOR], max_age=300),
    "peek": ToolRequirement(max_age=60),
}


@pytest.fixture
async def client(okta_issuer: LocalIssuer, echo: Echo) -> AsyncIterator[httpx.AsyncClient]:
    async with protected(okta_issuer, ToolScopes(echo, TOOLS, clock=lambda: NOW)) as c:
        yield c


def token(issuer: LocalIssuer, *scopes: str, **claims: Any) -> dict[str, str]:
    return bearer(issuer.mint(aud=RESOURCE, scp=["items:read", *scopes], **claims))


async def test_weak_sign_in_is_a_401_step_up_challenge_and_the_tool_never_runs(
    client: httpx.AsyncClient, okta_issuer: LocalIssuer, echo: Echo
) -> None:
    """A one-factor token calling wipe: 401 with acr_values, max_age, scopes and metadata."""
    headers = token(okta_issuer, "items:write", acr="urn:okta:loa:1fa:pwd", auth_time=int(NOW))
    response = await client.post("/mcp", json=call("wipe"), headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == (
        'Bearer realm="api", error="insufficient_user_authentication", '
        'error_description="A stronger authentication is required", '
        f'acr_values="{TWO_FACTOR}", max_age="300", scope="items:read items:write", '
        f'resource_metadata="{METADATA}"'
    )
    assert response.json()["error"] == "insufficient_user_authentication"
    assert echo.bodies == []


async def test_old_sign_in_is_refused_with_max_age(
    client: httpx.AsyncClient, okta_issuer: LocalIssuer, echo: Echo
) -> None:
    """The right acr but a sign-in older than max_age is a 401 naming max_age."""
    headers = token(okta_issuer, "items:write", acr=TWO_FACTOR, auth_time=int(NOW) - 301)
    response = await client.post("/mcp", json=call("wipe"), headers=headers)
    assert response.status_code == 401
    assert 'max_age="300"' in response.headers["www-authenticate"]
    assert echo.bodies == []


async def test_recency_only_tool_refuses_a_token_without_auth_time(
    client: httpx.AsyncClient, okta_issuer: LocalIssuer, echo: Echo
) -> None:
    """A max_age-only tool refuses a token without auth_time, naming max_age but no acr_values."""
    response = await client.post("/mcp", json=call("peek"), headers=token(okta_issuer))
    challenge = response.headers["www-authenticate"]
    assert response.status_code == 401
    assert 'max_age="60"' in challenge
    assert "acr_values" not in challenge
    assert echo.bodies == []


@pytest.mark.parametrize("auth_time", [10**400, -(10**400), 1e308, True, "1800000000", None])
async def test_hostile_auth_time_is_a_401_never_a_500(
    client: httpx.AsyncClient, okta_issuer: LocalIssuer, auth_time: Any
) -> None:
    """A 400-digit, huge, boolean, string or null auth_time fails the rule with a 401."""
    headers = token(okta_issuer, "items:write", acr=TWO_FACTOR, auth_time=auth_time)
    response = await client.post("/mcp", json=call("wipe"), headers=headers)
    assert response.status_code == 401
    assert "insufficient_user_authentication" in response.headers["www-authenticate"]


async def test_strong_recent_sign_in_runs_the_tool(
    client: httpx.AsyncClient, okta_issuer: LocalIssuer, echo: Echo
) -> None:
    """A two-factor sign-in within max_age, with the scopes, reaches the app."""
    headers = token(okta_issuer, "items:write", acr=TWO_FACTOR, auth_time=int(NOW) - 10)
    response = await client.post("/mcp", json=call("wipe"), headers=headers)
    assert (response.status_code, len(echo.bodies)) == (200, 1)


async def test_scopes_are_checked_before_the_sign_in(
    client: httpx.AsyncClient, okta_issuer: LocalIssuer, echo: Echo
) -> None:
    """A weak token that also lacks the tool's scope gets the 403 first, as require_auth does."""
    response = await client.post("/mcp", json=call("wipe"), headers=token(okta_issuer))
    assert response.status_code == 403
    assert 'scope="items:read items:write"' in response.headers["www-authenticate"]
    assert echo.bodies == []


async def test_a_batch_applies_every_called_tools_rule(
    client: httpx.AsyncClient, okta_issuer: LocalIssuer, echo: Echo
) -> None:
    """A batch hiding wipe behind an unrestricted call is held to wipe's step-up rule."""
    headers = token(okta_issuer, "items:write", acr="urn:okta:loa:1fa:pwd", auth_time=int(NOW))
    batch = [call("list_items", 1), call("wipe", 2)]
    response = await client.post("/mcp", json=batch, headers=headers)
    assert response.status_code == 401
    assert echo.bodies == []


async def test_unlisted_tools_need_no_step_up(
    client: httpx.AsyncClient, okta_issuer: LocalIssuer, echo: Echo
) -> None:
    """A tool outside the table runs with a one-factor token."""
    response = await client.post("/mcp", json=call("list_items"), headers=token(okta_issuer))
    assert (response.status_code, len(echo.bodies)) == (200, 1)


async def test_the_table_drives_scopes_supported(okta_issuer: LocalIssuer) -> None:
    """The metadata lists the required scopes, then the table's, even through another wrapper."""
    tools = ToolScopes(Echo(), {"a": ToolRequirement(["x", "y"], max_age=5), "b": ["y", "z"]})
    assert tools.scopes_supported == ("x", "y", "z")
    app = BearerAuthMiddleware(
        CORSMiddleware(tools, allow_origins=["*"]),
        verifier=okta_issuer.verifier(audience=RESOURCE),
        resource=ProtectedResource(RESOURCE, scopes_supported=["profile"]),
        required_scopes=["items:read"],
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="https://api.example") as c:
        doc = (await c.get("/.well-known/oauth-protected-resource/mcp")).json()
    assert doc["scopes_supported"] == ["profile", "items:read", "x", "y", "z"]


def test_the_table_is_readable() -> None:
    """requirements exposes the table; plain scope lists become ToolRequirement, empty ones drop."""
    tools = ToolScopes(Echo(), {"a": ["s"], "b": [], "c": ToolRequirement(acr_values=["m"])})
    assert set(tools.requirements) == {"a", "c"}
    assert tools.requirements["a"].scopes == ("s",)
    assert tools.requirements["c"].step_up.acr_values == ("m",)
    assert "max_age=None" in repr(tools.requirements["c"])


@pytest.mark.parametrize(
    ("build", "words"),
    [
        (lambda: ToolRequirement("items:write"), "scopes"),
        (lambda: ToolRequirement(["a b"]), "scope tokens"),
        (lambda: ToolRequirement(acr_values="mfa"), "acr_values"),
        (lambda: ToolRequirement(acr_values=['a"b']), "acr_values"),
        (lambda: ToolRequirement(max_age=-1), "max_age"),
        (lambda: ToolRequirement(max_age=True), "max_age"),
        (lambda: ToolScopes(Echo(), {"t": ["a b"]}), "tool_scopes\\['t'\\]"),
        (lambda: ToolScopes(Echo(), {"": ["s"]}), "tool_scopes"),
        (lambda: ToolScopes(Echo(), {"t": 5}), "tool_scopes"),  # type: ignore[dict-item]
        (lambda: ToolScopes(Echo(), [("t", ["s"])]), "tool_scopes"),  # type: ignore[arg-type]
        (lambda: ToolScopes(Echo(), {}, clock=5), "clock"),  # type: ignore[arg-type]
    ],
)
def test_bad_requirements_name_the_option(build: Any, words: str) -> None:
    """A malformed requirement or table is a ConfigurationError naming the option."""
    with pytest.raises(ConfigurationError, match=words):
        build()


def test_requirements_are_validated_once_at_start_up() -> None:
    """ToolScopes keeps the ToolRequirement it was given (checked when it was built)."""
    requirement = ToolRequirement(["s"], max_age=30)
    assert ToolScopes(Echo(), {"t": requirement}).requirements["t"] is requirement
