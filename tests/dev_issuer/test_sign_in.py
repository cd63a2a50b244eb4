"""The hosted sign-in page, the session cookie, and the tokens the implicit flow returns."""

from __future__ import annotations

import base64
import hashlib

import httpx
import pytest

from okta_bearer import InvalidToken
from okta_bearer.dev_issuer import DevIssuer
from okta_bearer.testing import LocalIssuer

from .conftest import Clock
from .helpers import (
    BASE,
    CLIENT_ID,
    PASSWORD,
    SPA,
    USER,
    authorize_params,
    fragment,
    jwt_part,
    sign_in,
)

pytestmark = pytest.mark.anyio

AUTHORIZE = f"{BASE}/v1/authorize"


async def test_sign_in_returns_the_implicit_flow_fragment(
    client: httpx.AsyncClient, local: LocalIssuer, clock: Clock
) -> None:
    """Signing in redirects to the SPA with the implicit-flow fragment, and the token verifies."""
    page = await client.get(AUTHORIZE, params=authorize_params())
    response = await sign_in(client, page)
    assert response.status_code == 303
    assert response.headers["location"].startswith(SPA + "#access_token=")
    params = fragment(response)
    assert params["token_type"] == "Bearer"
    assert params["expires_in"] == "3600"
    assert params["scope"] == "openid items:read"
    assert params["state"] == "state-296bc9a0"
    assert "id_token" not in params
    async with local.verifier(clock=clock) as verifier:
        claims = await verifier.verify(params["access_token"], ["items:read"])
    assert claims.sub == USER
    assert claims.client_id == CLIENT_ID
    assert claims.uid is not None
    assert claims.uid.startswith("00u")
    assert claims.scopes == {"openid", "items:read"}
    assert claims.audience == ("api://default",)


async def test_scope_in_fragment_is_percent_encoded(client: httpx.AsyncClient) -> None:
    """Spaces in scope are sent as %20 (Swagger UI's redirect page does not decode '+')."""
    page = await client.get(AUTHORIZE, params=authorize_params())
    response = await sign_in(client, page)
    assert "scope=openid%20items%3Aread" in response.headers["location"]


async def test_id_token_token_carries_nonce_and_at_hash(
    client: httpx.AsyncClient, local: LocalIssuer
) -> None:
    """With 'id_token token' the ID token echoes the nonce, names the client, hashes the token."""
    params = authorize_params(response_type="id_token token", scope="openid profile email")
    response = await sign_in(client, await client.get(AUTHORIZE, params=params))
    found = fragment(response)
    id_token = jwt_part(found["id_token"], 1)
    assert id_token["nonce"] == "nonce-1"
    assert id_token["aud"] == CLIENT_ID
    assert id_token["iss"] == local.issuer
    assert id_token["email"] == USER
    assert id_token["name"] == "Alice"
    digest = hashlib.sha256(found["access_token"].encode()).digest()
    expected = base64.urlsafe_b64encode(digest[:16]).rstrip(b"=").decode()
    assert id_token["at_hash"] == expected
    assert jwt_part(found["id_token"], 0)["kid"] == local.kid


async def test_id_token_alone_returns_no_access_token(client: httpx.AsyncClient) -> None:
    """response_type=id_token returns only an ID token with the nonce."""
    params = authorize_params(response_type="id_token")
    found = fragment(await sign_in(client, await client.get(AUTHORIZE, params=params)))
    assert "access_token" not in found
    assert jwt_part(found["id_token"], 1)["nonce"] == "nonce-1"
    assert "at_hash" not in jwt_part(found["id_token"], 1)


@pytest.mark.parametrize(
    ("username", "password"),
    [(USER, "wrong"), (USER, ""), ("bob@example.com", PASSWORD), ("", "")],
)
async def test_wrong_credentials_show_an_error(
    client: httpx.AsyncClient, username: str, password: str
) -> None:
    """A wrong password or unknown user re-shows the form with an error and sets no session."""
    page = await client.get(AUTHORIZE, params=authorize_params())
    response = await sign_in(client, page, username, password)
    assert response.status_code == 401
    assert "location" not in response.headers
    assert "wrong username or password" in response.text
    assert 'name="password"' in response.text
    assert "set-cookie" not in response.headers
    # The same transaction can still succeed afterwards.
    ok = await sign_in(client, response)
    assert ok.status_code == 303


async def test_login_is_case_insensitive(client: httpx.AsyncClient) -> None:
    """The username matches whatever its case, as Okta logins do; the password does not."""
    page = await client.get(AUTHORIZE, params=authorize_params())
    assert (await sign_in(client, page, USER.upper(), PASSWORD.upper())).status_code == 401
    assert (await sign_in(client, page, USER.upper(), PASSWORD)).status_code == 303


async def test_session_cookie_is_http_only(client: httpx.AsyncClient) -> None:
    """The session cookie is HttpOnly, SameSite=Lax and site-wide."""
    page = await client.get(AUTHORIZE, params=authorize_params())
    cookie = (await sign_in(client, page)).headers["set-cookie"].lower()
    assert "httponly" in cookie
    assert "samesite=lax" in cookie
    assert "path=/" in cookie


async def test_session_skips_sign_in(client: httpx.AsyncClient) -> None:
    """With a session, a second /authorize redirects at once with a fresh token."""
    first = fragment(await sign_in(client, await client.get(AUTHORIZE, params=authorize_params())))
    response = await client.get(AUTHORIZE, params=authorize_params(state="second"))
    assert response.status_code == 302
    again = fragment(response)
    assert again["state"] == "second"
    assert again["access_token"] != first["access_token"]


async def test_prompt_none_with_session_returns_tokens(client: httpx.AsyncClient) -> None:
    """prompt=none succeeds silently when a session exists."""
    await sign_in(client, await client.get(AUTHORIZE, params=authorize_params()))
    response = await client.get(AUTHORIZE, params=authorize_params(prompt="none"))
    assert "access_token" in fragment(response)


async def test_prompt_login_forces_sign_in(client: httpx.AsyncClient) -> None:
    """prompt=login shows the sign-in form even with a session."""
    await sign_in(client, await client.get(AUTHORIZE, params=authorize_params()))
    response = await client.get(AUTHORIZE, params=authorize_params(prompt="login"))
    assert response.status_code == 200
    assert 'name="password"' in response.text


async def test_session_expires(client: httpx.AsyncClient, dev: DevIssuer, clock: Clock) -> None:
    """After the session lifetime, /authorize asks to sign in again."""
    await sign_in(client, await client.get(AUTHORIZE, params=authorize_params()))
    clock.now += dev.session_lifetime + 1
    response = await client.get(AUTHORIZE, params=authorize_params(prompt="none"))
    assert fragment(response)["error"] == "login_required"


async def test_forged_session_cookie_is_ignored(client: httpx.AsyncClient) -> None:
    """An unknown session id is no session."""
    client.cookies.set("okta_bearer_dev_sid", "forged")
    response = await client.get(AUTHORIZE, params=authorize_params(prompt="none"))
    assert fragment(response)["error"] == "login_required"


async def test_cancel_is_access_denied(client: httpx.AsyncClient) -> None:
    """Cancelling the sign-in sends access_denied back in the fragment, with state."""
    page = await client.get(AUTHORIZE, params=authorize_params())
    response = await sign_in(client, page, action="cancel")
    assert response.status_code == 303
    assert fragment(response) == {
        "error": "access_denied",
        "error_description": "The user cancelled the sign-in.",
        "state": "state-296bc9a0",
    }


async def test_transaction_is_single_use(client: httpx.AsyncClient) -> None:
    """A sign-in form, once used, cannot be replayed."""
    page = await client.get(AUTHORIZE, params=authorize_params())
    assert (await sign_in(client, page)).status_code == 303
    replay = await sign_in(client, page)
    assert replay.status_code == 400
    assert "expired or is unknown" in replay.text


async def test_transaction_expires(client: httpx.AsyncClient, clock: Clock) -> None:
    """A sign-in form left open for more than ten minutes is refused."""
    page = await client.get(AUTHORIZE, params=authorize_params())
    clock.now += 601
    response = await sign_in(client, page)
    assert response.status_code == 400
    assert "location" not in response.headers


@pytest.mark.parametrize(
    ("content", "headers", "status"),
    [
        (b'{"txn": "x"}', {"content-type": "application/json"}, 415),
        (b"txn=a&txn=b", {"content-type": "application/x-www-form-urlencoded"}, 400),
        (b"\xff\xfe=1", {"content-type": "application/x-www-form-urlencoded"}, 400),
        (b"a=" + b"x" * 70_000, {"content-type": "application/x-www-form-urlencoded"}, 413),
    ],
)
async def test_malformed_login_posts_are_4xx(
    client: httpx.AsyncClient, content: bytes, headers: dict[str, str], status: int
) -> None:
    """The login endpoint answers malformed bodies with a 4xx, never a 500."""
    response = await client.post(f"{BASE}/v1/login", content=content, headers=headers)
    assert response.status_code == status


async def test_login_hint_prefills_username(client: httpx.AsyncClient) -> None:
    """login_hint pre-fills the username field, escaped."""
    params = authorize_params(login_hint='bob"@example.com')
    page = await client.get(AUTHORIZE, params=params)
    assert 'value="bob&quot;@example.com"' in page.text


async def test_logout_ends_the_session(client: httpx.AsyncClient) -> None:
    """/v1/logout forgets the session and redirects only to a registered URI."""
    await sign_in(client, await client.get(AUTHORIZE, params=authorize_params()))
    response = await client.get(
        f"{BASE}/v1/logout", params={"post_logout_redirect_uri": SPA, "state": "bye"}
    )
    assert response.status_code == 302
    assert response.headers["location"] == SPA + "?state=bye"
    after = await client.get(AUTHORIZE, params=authorize_params(prompt="none"))
    assert fragment(after)["error"] == "login_required"
    foreign = await client.get(
        f"{BASE}/v1/logout", params={"post_logout_redirect_uri": "https://evil.example/"}
    )
    assert foreign.status_code == 200
    assert "location" not in foreign.headers


async def test_tokens_are_signed_by_the_current_key(
    client: httpx.AsyncClient, dev: DevIssuer, local: LocalIssuer, clock: Clock
) -> None:
    """After rotation, the flow's tokens carry the new kid and still verify."""
    kid = dev.rotate()
    page = await client.get(AUTHORIZE, params=authorize_params())
    token = fragment(await sign_in(client, page))["access_token"]
    assert jwt_part(token, 0)["kid"] == kid
    async with local.verifier(clock=clock) as verifier:
        assert (await verifier.verify(token)).sub == USER
    dev.rotate(keep_old=False)
    async with local.verifier(clock=clock) as verifier:
        with pytest.raises(InvalidToken):
            await verifier.verify(token)
