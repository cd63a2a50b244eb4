"""acr_values and max_age on /v1/authorize: re-authentication, acr, auth_time, the RFC 9470 loop."""

from __future__ import annotations

import re

import httpx
import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from okta_bearer import BearerAuthMiddleware, require_auth
from okta_bearer.testing import LocalIssuer

from .conftest import Clock
from .helpers import BASE, CLIENT_ID, SPA, authorize_params, jwt_part, pkce_pair, query, sign_in

pytestmark = pytest.mark.anyio

MFA = "urn:okta:loa:2fa:any"
PWD = "urn:okta:loa:1fa:pwd"


async def authorize(client: httpx.AsyncClient, **extra: str) -> tuple[httpx.Response, str]:
    """Start a code flow with ``extra`` parameters; (response, code_verifier)."""
    verifier, challenge = pkce_pair()
    params = authorize_params(
        response_type="code", code_challenge=challenge, code_challenge_method="S256", **extra
    )
    return await client.get(f"{BASE}/v1/authorize", params=params), verifier


async def token_from(client: httpx.AsyncClient, redirect: httpx.Response, verifier: str) -> str:
    """Redeem the code in ``redirect`` for an access token."""
    assert redirect.status_code in (302, 303), redirect.text
    data = {
        "grant_type": "authorization_code",
        "code": query(redirect)["code"],
        "redirect_uri": SPA,
        "client_id": CLIENT_ID,
        "code_verifier": verifier,
    }
    response = await client.post(f"{BASE}/v1/token", data=data)
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


async def signed_in_token(client: httpx.AsyncClient, **extra: str) -> str:
    """Sign in through the form and return the access token."""
    page, verifier = await authorize(client, **extra)
    assert page.status_code == 200
    return await token_from(client, await sign_in(client, page), verifier)


async def test_password_sign_in_records_acr_and_auth_time(
    client: httpx.AsyncClient, clock: Clock
) -> None:
    """A plain sign-in issues acr 1fa:pwd and auth_time of the sign-in."""
    claims = jwt_part(await signed_in_token(client), 1)
    assert (claims["acr"], claims["auth_time"]) == (PWD, int(clock.now))


async def test_acr_values_force_a_new_sign_in(client: httpx.AsyncClient, clock: Clock) -> None:
    """With a session of a weaker class, acr_values shows the form again; the new token has it."""
    await signed_in_token(client)
    clock.now += 60
    page, verifier = await authorize(client, acr_values=MFA)
    assert page.status_code == 200
    assert 'name="password"' in page.text
    claims = jwt_part(await token_from(client, await sign_in(client, page), verifier), 1)
    assert (claims["acr"], claims["auth_time"]) == (MFA, int(clock.now))


async def test_satisfied_acr_values_reuse_the_session(
    client: httpx.AsyncClient, clock: Clock
) -> None:
    """A session that already has the requested class is not asked to sign in again."""
    await signed_in_token(client, acr_values=MFA)
    redirect, verifier = await authorize(client, acr_values=f"{MFA} {PWD}")
    claims = jwt_part(await token_from(client, redirect, verifier), 1)
    assert claims["acr"] == MFA


async def test_max_age_forces_a_new_sign_in_when_exceeded(
    client: httpx.AsyncClient, clock: Clock
) -> None:
    """A session older than max_age must sign in again; a younger one passes silently."""
    await signed_in_token(client)
    clock.now += 100
    fresh, verifier = await authorize(client, max_age="300")
    assert fresh.status_code == 302
    await token_from(client, fresh, verifier)
    clock.now += 250
    stale, _ = await authorize(client, max_age="300")
    assert stale.status_code == 200
    assert 'name="password"' in stale.text


async def test_prompt_none_with_unmet_max_age_is_login_required(
    client: httpx.AsyncClient, clock: Clock
) -> None:
    """prompt=none cannot re-authenticate: the client gets login_required."""
    await signed_in_token(client)
    clock.now += 10
    response, _ = await authorize(client, max_age="0", prompt="none")
    assert query(response)["error"] == "login_required"


@pytest.mark.parametrize(
    ("extra", "error"),
    [
        ({"max_age": "-1"}, "invalid_request"),
        ({"max_age": "ten"}, "invalid_request"),
        ({"max_age": "9" * 400}, "invalid_request"),
        ({"max_age": "1e400"}, "invalid_request"),
        ({"max_age": "NaN"}, "invalid_request"),
        ({"max_age": "true"}, "invalid_request"),
        ({"max_age": "3.5"}, "invalid_request"),
        ({"max_age": "\uff11\uff10"}, "invalid_request"),  # fullwidth digits: isdigit() is true
        ({"acr_values": "urn:example:unknown"}, "invalid_request"),
        ({"resource": "/relative"}, "invalid_target"),
        ({"resource": "https://api.example/mcp#frag"}, "invalid_target"),
    ],
)
async def test_bad_context_parameters_are_redirected_errors(
    client: httpx.AsyncClient, extra: dict[str, str], error: str
) -> None:
    """Malformed max_age, an unsupported acr or a bad resource come back to the client."""
    response, _ = await authorize(client, **extra)
    assert response.status_code == 302
    assert query(response)["error"] == error


async def test_step_up_loop_with_a_resource_server(
    client: httpx.AsyncClient, local: LocalIssuer, clock: Clock
) -> None:
    """RFC 9470: 401 names acr_values, the client asks the issuer for them, the retry passes."""

    @require_auth(acr_values=[MFA], clock=clock)
    async def transfer(request: Request) -> PlainTextResponse:
        return PlainTextResponse("sent")

    api = Starlette(
        routes=[Route("/transfer", transfer)],
        middleware=[Middleware(BearerAuthMiddleware, verifier=local.verifier(clock=clock))],
    )
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=api), base_url="http://api.test"
    ) as api_client:
        first = await signed_in_token(client)
        refused = await api_client.get("/transfer", headers={"authorization": f"Bearer {first}"})
        assert refused.status_code == 401
        match = re.search(r'acr_values="([^"]+)"', refused.headers["www-authenticate"])
        assert match is not None
        second = await signed_in_token(client, acr_values=match.group(1))
        retried = await api_client.get("/transfer", headers={"authorization": f"Bearer {second}"})
    assert (retried.status_code, retried.text) == (200, "sent")
