"""No silent hand-off to a stranger: consent off this machine, registered logout targets."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from okta_bearer.dev_issuer import DevClient, DevIssuer
from okta_bearer.testing import LocalIssuer

from .conftest import Clock
from .helpers import (
    AUTHORIZE,
    BASE,
    CLIENT_ID,
    NATIVE,
    SPA,
    authorize_params,
    fragment,
    sign_in,
    txn_of,
)

pytestmark = pytest.mark.anyio

CONSENT = f"{BASE}/v1/consent"
LOGOUT = f"{BASE}/v1/logout"
REMOTE = "https://stranger.example/cb"


async def _stranger(client: httpx.AsyncClient, **meta: Any) -> str:
    """Register a public client whose redirect URI is off this machine; its client_id."""
    body = {
        "redirect_uris": [REMOTE],
        "token_endpoint_auth_method": "none",
        "grant_types": ["implicit", "authorization_code"],
        "client_name": "<b>Totally Legit</b>",
        **meta,
    }
    response = await client.post(f"{BASE}/v1/register", json=body)
    assert response.status_code == 201, response.text
    client_id: str = response.json()["client_id"]
    return client_id


def _params(client_id: str, redirect_uri: str = REMOTE, **extra: str) -> dict[str, str]:
    return authorize_params(client_id=client_id, redirect_uri=redirect_uri, scope="openid", **extra)


async def _answer(client: httpx.AsyncClient, page: httpx.Response, action: str) -> httpx.Response:
    return await client.post(CONSENT, data={"txn": txn_of(page), "action": action})


async def test_sign_in_for_a_stranger_shows_a_consent_page(client: httpx.AsyncClient) -> None:
    """After sign-in nothing is redirected: a page names the client and its redirect URI."""
    client_id = await _stranger(client)
    page = await sign_in(client, await client.get(AUTHORIZE, params=_params(client_id)))
    assert page.status_code == 200
    assert "location" not in page.headers
    assert "access_token" not in page.text
    assert client_id in page.text
    assert REMOTE in page.text
    assert "&lt;b&gt;Totally Legit&lt;/b&gt;" in page.text  # its own name, escaped
    assert "<b>Totally" not in page.text
    assert page.headers["x-frame-options"] == "DENY"


async def test_approving_sends_the_token(client: httpx.AsyncClient) -> None:
    """Only the user's approval sends the token to the stranger's redirect URI."""
    client_id = await _stranger(client)
    page = await sign_in(client, await client.get(AUTHORIZE, params=_params(client_id)))
    approved = await _answer(client, page, "approve")
    assert approved.status_code == 303
    assert approved.headers["location"].startswith(REMOTE + "#")
    assert "access_token" in fragment(approved)


async def test_denying_sends_access_denied_and_no_token(client: httpx.AsyncClient) -> None:
    """Deny redirects with access_denied and the state, and no token or code."""
    client_id = await _stranger(client)
    page = await sign_in(client, await client.get(AUTHORIZE, params=_params(client_id)))
    denied = await _answer(client, page, "deny")
    params = fragment(denied)
    assert (params["error"], params["state"]) == ("access_denied", "state-296bc9a0")
    assert "access_token" not in params
    again = await _answer(client, page, "approve")  # the transaction is spent
    assert again.status_code == 400
    assert "location" not in again.headers


async def test_signed_in_user_is_asked_too(client: httpx.AsyncClient) -> None:
    """An existing session does not skip consent; prompt=none is consent_required."""
    await sign_in(client, await client.get(AUTHORIZE, params=authorize_params()))
    client_id = await _stranger(client)
    page = await client.get(AUTHORIZE, params=_params(client_id))
    assert page.status_code == 200
    assert "location" not in page.headers
    assert 'id="approve"' in page.text
    silent = await client.get(AUTHORIZE, params=_params(client_id, prompt="none"))
    assert fragment(silent)["error"] == "consent_required"
    assert "access_token" not in fragment(silent)


async def test_code_flow_waits_for_consent(client: httpx.AsyncClient) -> None:
    """A code is not issued either until the user approves."""
    client_id = await _stranger(client)
    params = _params(
        client_id,
        response_type="code",
        code_challenge="x" * 43,
        code_challenge_method="S256",
    )
    page = await sign_in(client, await client.get(AUTHORIZE, params=params))
    assert page.status_code == 200
    assert "code=" not in page.headers.get("location", "")
    approved = await _answer(client, page, "approve")
    assert approved.headers["location"].startswith(REMOTE + "?code=")


async def test_consent_from_another_browser_is_refused(
    client: httpx.AsyncClient, dev: DevIssuer
) -> None:
    """A consent page's transaction posted by another browser (a forged approval) sends nothing."""
    client_id = await _stranger(client)
    page = await sign_in(client, await client.get(AUTHORIZE, params=_params(client_id)))
    transport = httpx.ASGITransport(app=dev, client=("127.0.0.1", 50001))
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:9400") as other:
        forged = await _answer(other, page, "approve")
    assert forged.status_code == 400
    assert "location" not in forged.headers


async def test_consent_after_sign_out_is_refused(client: httpx.AsyncClient) -> None:
    """Approving after the session ended sends nothing."""
    client_id = await _stranger(client)
    page = await sign_in(client, await client.get(AUTHORIZE, params=_params(client_id)))
    await client.get(LOGOUT)
    late = await _answer(client, page, "approve")
    assert late.status_code == 400
    assert "location" not in late.headers


async def test_consent_page_expires(client: httpx.AsyncClient, clock: Clock) -> None:
    """A consent page left open past its lifetime cannot be approved."""
    client_id = await _stranger(client)
    page = await sign_in(client, await client.get(AUTHORIZE, params=_params(client_id)))
    clock.now += 601
    late = await _answer(client, page, "approve")
    assert late.status_code == 400
    assert "location" not in late.headers


async def test_loopback_and_configured_clients_are_not_asked(local: LocalIssuer) -> None:
    """A registered loopback redirect, and an operator's https client, get their answer at once."""
    dev = DevIssuer(local, clients=[DevClient(CLIENT_ID, (SPA, REMOTE))])
    transport = httpx.ASGITransport(app=dev, client=("127.0.0.1", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:9400") as c:
        native = await _stranger(c, redirect_uris=[NATIVE])
        for client_id, uri in ((native, NATIVE), (CLIENT_ID, REMOTE)):
            page = await c.get(AUTHORIZE, params=_params(client_id, uri))
            response = page if page.status_code == 302 else await sign_in(c, page)
            assert response.status_code in (302, 303)
            assert "access_token" in fragment(response)


async def test_logout_refuses_a_registered_clients_redirect_uri(
    client: httpx.AsyncClient,
) -> None:
    """A self-registered redirect_uri is no logout target (it was an open redirect)."""
    await _stranger(client)
    response = await client.get(LOGOUT, params={"post_logout_redirect_uri": REMOTE})
    assert response.status_code == 200
    assert "location" not in response.headers


async def test_logout_accepts_a_registered_post_logout_uri(client: httpx.AsyncClient) -> None:
    """A post_logout_redirect_uri registered for that purpose is honoured, for that client."""
    target = "https://stranger.example/bye"
    client_id = await _stranger(client, post_logout_redirect_uris=[target])
    ok = await client.get(
        LOGOUT, params={"post_logout_redirect_uri": target, "client_id": client_id, "state": "s"}
    )
    assert (ok.status_code, ok.headers["location"]) == (302, target + "?state=s")
    other = await client.get(
        LOGOUT, params={"post_logout_redirect_uri": target, "client_id": CLIENT_ID}
    )
    assert "location" not in other.headers
    configured = await client.get(
        LOGOUT, params={"post_logout_redirect_uri": SPA, "client_id": CLIENT_ID}
    )
    assert configured.headers["location"] == SPA


@pytest.mark.parametrize(
    "uris", [["http://evil.example/bye"], ["https://a.example/#x"], "https://a.example/"]
)
async def test_post_logout_uris_are_checked_at_registration(
    client: httpx.AsyncClient, uris: object
) -> None:
    """post_logout_redirect_uris obey the redirect_uris rules (https or loopback, no fragment)."""
    response = await client.post(
        f"{BASE}/v1/register",
        json={"redirect_uris": [NATIVE], "post_logout_redirect_uris": uris},
    )
    assert (response.status_code, response.json()["error"]) == (400, "invalid_redirect_uri")
