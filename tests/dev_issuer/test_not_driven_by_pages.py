"""No web page can drive the dev issuer: admin refuses pages, sign-in is bound to a browser."""

from __future__ import annotations

import httpx
import pytest

from okta_bearer.dev_issuer import DevIssuer
from okta_bearer.dev_issuer._local_only import host_header_is_loopback

from .helpers import BASE, SPA, authorize_params, sign_in, txn_of

pytestmark = pytest.mark.anyio

ADMIN_PATHS = ["/dev/mint", "/dev/rotate"]


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1:9400", True),
        ("127.0.0.1", True),
        ("127.45.6.7:9400", True),
        ("localhost:9400", True),
        ("LOCALHOST", True),
        ("[::1]:9400", True),
        ("[::1]", True),
        ("evil.example:9400", False),
        ("127.0.0.1.evil.example:9400", False),
        ("127.attacker.example", False),
        ("localhost.evil.example", False),
        ("10.0.0.1:9400", False),
        ("[::2]:9400", False),
        ("[::1]x", False),
        ("127.0.0.1:80a", False),
        ("", False),
    ],
)
def test_loopback_host_names(host: str, loopback: bool) -> None:
    """Only loopback IP literals and localhost, with an optional port, count as loopback."""
    assert host_header_is_loopback(host) is loopback


@pytest.mark.parametrize("path", ADMIN_PATHS)
@pytest.mark.parametrize("host", ["evil.example:9400", "127.0.0.1.nip.example:9400"])
async def test_admin_refuses_a_rebinding_host(
    client: httpx.AsyncClient, dev: DevIssuer, path: str, host: str
) -> None:
    """A request whose Host is not loopback (DNS rebinding) gets 403 and changes nothing."""
    kid = dev.local.kid
    response = await client.post(BASE + path, json={}, headers={"host": host})
    assert response.status_code == 403
    assert "Host" in response.json()["error_description"]
    assert "access_token" not in response.text
    assert dev.local.kid == kid


@pytest.mark.parametrize("path", ADMIN_PATHS)
@pytest.mark.parametrize("host", ["localhost:9400", "127.0.0.1:9400", "[::1]:9400"])
async def test_admin_accepts_loopback_hosts(
    client: httpx.AsyncClient, path: str, host: str
) -> None:
    """curl and the CLI, naming a loopback Host, are served."""
    response = await client.post(BASE + path, json={}, headers={"host": host})
    assert response.status_code == 200


@pytest.mark.parametrize("path", ADMIN_PATHS)
@pytest.mark.parametrize("origin", [SPA.rstrip("/"), "http://127.0.0.1:9400", "null"])
async def test_admin_refuses_any_origin(
    client: httpx.AsyncClient, dev: DevIssuer, path: str, origin: str
) -> None:
    """A request carrying Origin (a page's fetch, even a registered client's) gets 403."""
    kid = dev.local.kid
    response = await client.post(BASE + path, json={}, headers={"origin": origin})
    assert response.status_code == 403
    assert "Origin" in response.json()["error_description"]
    assert "access-control-allow-origin" not in response.headers
    assert dev.local.kid == kid


@pytest.mark.parametrize("path", ADMIN_PATHS)
async def test_cors_never_covers_admin(client: httpx.AsyncClient, path: str) -> None:
    """A preflight from a registered client's origin is not allowed on the admin routes."""
    response = await client.options(
        BASE + path,
        headers={
            "origin": SPA.rstrip("/"),
            "access-control-request-method": "POST",
            "access-control-request-headers": "content-type",
        },
    )
    assert response.status_code in (403, 405)
    assert "access-control-allow-origin" not in response.headers


async def test_cors_still_covers_the_token_endpoint(client: httpx.AsyncClient) -> None:
    """The SPA's origin may still call /v1/token (the PKCE exchange) cross-origin."""
    response = await client.options(
        f"{BASE}/v1/token",
        headers={"origin": SPA.rstrip("/"), "access-control-request-method": "POST"},
    )
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == SPA.rstrip("/")


async def test_sign_in_form_sets_a_browser_cookie(client: httpx.AsyncClient) -> None:
    """Showing the form binds its transaction to an HttpOnly, SameSite cookie."""
    page = await client.get(f"{BASE}/v1/authorize", params=authorize_params())
    cookie = page.headers["set-cookie"]
    assert cookie.startswith("okta_bearer_dev_sid_browser=")
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie
    assert f"Path={BASE}/v1/" in cookie


async def test_login_without_the_browser_cookie_is_refused(
    client: httpx.AsyncClient, dev: DevIssuer
) -> None:
    """Posting a form's transaction from another browser (login CSRF) signs nobody in."""
    page = await client.get(f"{BASE}/v1/authorize", params=authorize_params())
    transport = httpx.ASGITransport(app=dev, client=("127.0.0.1", 50001))
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:9400") as other:
        forged = await sign_in(other, page)
        assert forged.status_code == 400
        assert "not opened in this browser" in forged.text
        assert "location" not in forged.headers
        assert "okta_bearer_dev_sid=" not in forged.headers.get("set-cookie", "")
        # The other browser's own cookie does not help either.
        await other.get(f"{BASE}/v1/authorize", params=authorize_params())
        assert (await sign_in(other, page)).status_code == 400
    # The browser that opened the form can still use it.
    assert (await sign_in(client, page)).status_code == 303


async def test_two_tabs_in_one_browser_both_sign_in(client: httpx.AsyncClient) -> None:
    """Two forms opened in one browser share its cookie, so either can be submitted."""
    first = await client.get(f"{BASE}/v1/authorize", params=authorize_params())
    second = await client.get(
        f"{BASE}/v1/authorize", params=authorize_params(state="second", prompt="login")
    )
    assert txn_of(first) != txn_of(second)
    assert (await sign_in(client, second)).status_code == 303
    assert (await sign_in(client, first)).status_code == 303


async def test_credentials_are_shown_only_when_asked(dev: DevIssuer) -> None:
    """show_credentials lists the demo accounts on the sign-in page; by default they are hidden."""
    for show in (False, True):
        dev.show_credentials = show
        transport = httpx.ASGITransport(app=dev, client=("127.0.0.1", 50002))
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:9400") as c:
            page = await c.get(f"{BASE}/v1/authorize", params=authorize_params())
        assert ("wonderland" in page.text) is show
        assert ('id="credentials"' in page.text) is show
