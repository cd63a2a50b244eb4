"""The official MCP Python client against the example MCP server and the dev issuer.

The client starts with nothing but the server URL: it gets the 401, reads the
RFC 9728 metadata, finds the dev issuer (RFC 8414), registers (RFC 7591),
signs in with code + PKCE and ``resource`` (RFC 8707) through a scripted
browser, and retries.  Everything runs on 127.0.0.1.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import anyio
import httpx
import httpx2
import jwt
import pytest
from mcp import ClientSession
from mcp.client.auth import AuthorizationCodeResult, OAuthClientProvider
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import OAuthClientMetadata
from mcp.types import TextContent
from pydantic import AnyUrl

from okta_bearer._cli import load_example

from .conftest import MACHINE_ID, MACHINE_SECRET, World

pytestmark = pytest.mark.anyio

#: The example client (examples/mcp_client.py): its sign-in form parser and token storage.
_EXAMPLE = load_example("mcp_client")

REDIRECT_URI = "http://127.0.0.1:1/callback"  # never contacted: the browser stops at the redirect


def _step_up_parameters(challenge: str | None) -> dict[str, str]:
    """``acr_values`` and ``max_age`` of an RFC 9470 challenge; empty for any other."""
    if challenge is None or 'error="insufficient_user_authentication"' not in challenge:
        return {}
    return dict(re.findall(r'(acr_values|max_age)="([^"]*)"', challenge))


@dataclass
class Browser:
    """Plays the user: follows the authorization URL, signs in, captures the redirect.

    The official client does not pass an RFC 9470 challenge's ``acr_values``
    and ``max_age`` on to the authorization request yet, so the browser adds
    those of the last challenge the client received (``challenges``), as a
    step-up-aware client would.
    """

    http: httpx.AsyncClient
    authorize_urls: list[str] = field(default_factory=list)
    result: AuthorizationCodeResult | None = None
    challenges: list[str] = field(default_factory=list)
    signed_in: int = 0

    async def redirect(self, url: str) -> None:
        step_up = _step_up_parameters(self.challenges[-1] if self.challenges else None)
        if step_up:
            url = f"{url}&{urlencode(step_up)}"
        self.authorize_urls.append(url)
        response = await self.http.get(url)
        if response.status_code == 200:  # the sign-in form (no session yet)
            form = _EXAMPLE.SignInForm()
            form.feed(response.text)
            data = form.fields | {
                "username": "alice@example.com",
                "password": "wonderland",
                "action": "sign-in",
            }
            response = await self.http.post(urljoin(url, form.action), data=data)
            self.signed_in += 1
        assert response.status_code in (302, 303), response.text
        query = parse_qs(urlsplit(response.headers["location"]).query)
        assert "code" in query, query
        self.result = AuthorizationCodeResult(
            code=query["code"][0], state=query["state"][0], iss=query.get("iss", [None])[0]
        )

    async def callback(self) -> AuthorizationCodeResult:
        assert self.result is not None
        return self.result


@dataclass
class Exchange:
    """One request the MCP client made, and the answer."""

    method: str
    url: str
    status: int
    challenge: str | None


def _claims(token: str) -> dict[str, object]:
    claims: dict[str, object] = jwt.decode(token, options={"verify_signature": False})
    return claims


async def _connect_and(
    world: World, storage: Any, browser: Browser, tools: list[tuple[str, dict[str, str]]]
) -> tuple[list[str], list[str], list[Exchange]]:
    """Connect with the official client, list tools, call ``tools``; (names, texts, exchanges)."""
    seen: list[Exchange] = []

    async def record(response: httpx2.Response) -> None:
        request = response.request
        if "www-authenticate" in response.headers:
            browser.challenges.append(response.headers["www-authenticate"])
        seen.append(
            Exchange(
                request.method,
                str(request.url),
                response.status_code,
                response.headers.get("www-authenticate"),
            )
        )

    provider = OAuthClientProvider(
        server_url=world.mcp_url,
        client_metadata=OAuthClientMetadata(
            client_name="okta_bearer e2e", redirect_uris=[AnyUrl(REDIRECT_URI)]
        ),
        storage=storage,
        redirect_handler=browser.redirect,
        callback_handler=browser.callback,
    )
    texts: list[str] = []
    with anyio.fail_after(60):  # a guard against a hang, not a timing assertion
        async with (
            httpx2.AsyncClient(auth=provider, event_hooks={"response": [record]}) as http,
            streamable_http_client(world.mcp_url, http_client=http) as (read, write),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            listed = await session.list_tools()
            for name, arguments in tools:
                result = await session.call_tool(name, arguments)
                assert not result.is_error, result
                texts.extend(c.text for c in result.content if isinstance(c, TextContent))
    return [t.name for t in listed.tools], texts, seen


async def test_client_discovers_everything_from_the_server_url(world: World) -> None:
    """From a bare URL the client follows 401 -> metadata -> issuer -> registration -> token."""
    storage = _EXAMPLE.MemoryStorage()
    async with httpx.AsyncClient() as http:
        browser = Browser(http)
        names, texts, seen = await _connect_and(world, storage, browser, [("list_items", {})])
    metadata_url = world.mcp_url.replace("/mcp", "/.well-known/oauth-protected-resource/mcp")
    first = seen[0]
    assert (first.url, first.status) == (world.mcp_url, 401)
    assert first.challenge is not None
    assert f'resource_metadata="{metadata_url}"' in first.challenge
    assert 'scope="items:read"' in first.challenge
    assert (seen[1].url, seen[1].status) == (metadata_url, 200)
    assert any(e.url == f"{world.issuer}/v1/register" and e.status == 201 for e in seen)
    assert parse_qs(urlsplit(browser.authorize_urls[0]).query)["resource"] == [world.mcp_url]
    assert storage.tokens is not None
    claims = _claims(storage.tokens.access_token)
    assert (claims["aud"], claims["iss"]) == (world.mcp_url, world.issuer)
    assert set(names) == {"list_items", "add_item", "remove_item"}
    assert texts == ["apple"]


async def test_missing_tool_scope_is_a_403_the_client_recovers_from(world: World) -> None:
    """add_item needs items:write: a 403 naming every scope, re-authorization, a working retry."""
    storage = _EXAMPLE.MemoryStorage()
    async with httpx.AsyncClient() as http:
        browser = Browser(http)
        _, texts, seen = await _connect_and(
            world, storage, browser, [("add_item", {"name": "pear"})]
        )
    refused = [e for e in seen if e.status == 403]
    assert len(refused) == 1
    challenge = refused[0].challenge or ""
    assert 'error="insufficient_scope"' in challenge
    assert 'scope="items:read items:write"' in challenge
    assert "resource_metadata=" in challenge
    assert len(browser.authorize_urls) == 2
    second = parse_qs(urlsplit(browser.authorize_urls[1]).query)
    assert "items:write" in second["scope"][0].split()
    assert second["resource"] == [world.mcp_url]
    assert storage.tokens is not None
    assert "items:write" in _claims(storage.tokens.access_token)["scp"]  # type: ignore[operator]
    assert texts == ["pear added by alice@example.com"]


async def test_step_up_tool_is_a_401_the_client_recovers_from_by_signing_in_again(
    world: World,
) -> None:
    """remove_item needs a two-factor sign-in: RFC 9470's 401, a new sign-in, a working retry."""
    storage = _EXAMPLE.MemoryStorage()
    async with httpx.AsyncClient() as http:
        browser = Browser(http)
        _, texts, seen = await _connect_and(
            world,
            storage,
            browser,
            [("add_item", {"name": "plum"}), ("remove_item", {"name": "plum"})],
        )
    stepped = [e for e in seen if _step_up_parameters(e.challenge)]
    assert len(stepped) == 1
    assert (stepped[0].url, stepped[0].status) == (world.mcp_url, 401)
    challenge = stepped[0].challenge or ""
    assert 'acr_values="urn:okta:loa:2fa:any"' in challenge
    assert 'max_age="300"' in challenge
    # Every scope the call needs: the client replaces its scopes with these on a 401.
    assert 'scope="items:read items:write"' in challenge
    assert "resource_metadata=" in challenge
    # Sign-in, the items:write consent without one, then a second sign-in for the step-up.
    assert (len(browser.authorize_urls), browser.signed_in) == (3, 2)
    third = parse_qs(urlsplit(browser.authorize_urls[2]).query)
    assert third["acr_values"] == ["urn:okta:loa:2fa:any"]
    assert "items:write" in third["scope"][0].split()
    assert storage.tokens is not None
    claims = _claims(storage.tokens.access_token)
    assert claims["acr"] == "urn:okta:loa:2fa:any"
    assert "items:write" in claims["scp"]  # type: ignore[operator]
    assert texts == ["plum added by alice@example.com", "plum removed by alice@example.com"]


async def _client_credentials_token(world: World, http: httpx.AsyncClient, resource: str) -> str:
    # A configured client: a self-registered one may only name the MCP server's URL.
    response = await http.post(
        f"{world.issuer}/v1/token",
        data={
            "grant_type": "client_credentials",
            "client_id": MACHINE_ID,
            "client_secret": MACHINE_SECRET,
            "scope": "items:read",
            "resource": resource,
        },
    )
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


_INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "raw", "version": "0"},
    },
}
_HEADERS = {"accept": "application/json, text/event-stream"}


@pytest.mark.parametrize("suffix", ["/other", "/", "ORIGIN", "PARENT"])
async def test_token_for_another_resource_is_refused(world: World, suffix: str) -> None:
    """A token whose aud is a sibling, child, parent or the origin of the server is a 401."""
    origin = world.mcp_url.rsplit("/mcp", 1)[0]
    resource = {"ORIGIN": origin, "PARENT": origin + "/"}.get(suffix, world.mcp_url + suffix)
    async with httpx.AsyncClient() as http:
        token = await _client_credentials_token(world, http, resource)
        assert _claims(token)["aud"] == resource
        response = await http.post(
            world.mcp_url,
            json=_INITIALIZE,
            headers=_HEADERS | {"authorization": f"Bearer {token}"},
        )
    assert response.status_code == 401
    challenge = response.headers["www-authenticate"]
    assert 'error="invalid_token"' in challenge
    assert re.search(
        r'resource_metadata="[^"]+/\.well-known/oauth-protected-resource/mcp"', challenge
    )


async def test_token_for_this_resource_is_accepted(world: World) -> None:
    """The control: the same kind of token, issued for exactly this resource, initializes."""
    async with httpx.AsyncClient() as http:
        token = await _client_credentials_token(world, http, world.mcp_url)
        response = await http.post(
            world.mcp_url,
            json=_INITIALIZE,
            headers=_HEADERS | {"authorization": f"Bearer {token}"},
        )
    assert response.status_code == 200, response.text
