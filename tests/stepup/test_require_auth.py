"""require_auth(acr_values=..., max_age=...) on FastAPI and Starlette routes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from okta_bearer import BearerAuthMiddleware, Claims, ConfigurationError, check_auth, require_auth
from okta_bearer import fastapi as ob_fastapi
from okta_bearer.testing import OMIT, LocalIssuer

from ..helpers import Clock, bearer

pytestmark = pytest.mark.anyio

MFA = "urn:okta:loa:2fa:any"
PWD = "urn:okta:loa:1fa:pwd"


def fastapi_app(issuer: LocalIssuer, clock: Clock) -> FastAPI:
    app = FastAPI()
    app.add_middleware(BearerAuthMiddleware, verifier=issuer.verifier(clock=clock))

    @app.get("/transfer")
    async def transfer(
        claims: Claims = ob_fastapi.require_auth(
            "items:write", acr_values=[MFA], max_age=300, clock=clock
        ),
    ) -> str:
        return "sent"

    return app


def starlette_app(issuer: LocalIssuer, clock: Clock) -> Starlette:
    @require_auth("items:write", acr_values=[MFA], max_age=300, clock=clock)
    async def transfer(request: Request) -> PlainTextResponse:
        return PlainTextResponse("sent")

    async def checked(request: Request) -> PlainTextResponse:
        claims = check_auth(request, acr_values=[MFA], now=clock())
        return PlainTextResponse(claims.sub or "")

    return Starlette(
        routes=[Route("/transfer", transfer), Route("/checked", checked)],
        middleware=[Middleware(BearerAuthMiddleware, verifier=issuer.verifier(clock=clock))],
    )


@pytest.fixture(params=["fastapi", "starlette"])
async def client(
    request: pytest.FixtureRequest, okta_issuer: LocalIssuer
) -> AsyncIterator[tuple[httpx.AsyncClient, LocalIssuer, Clock]]:
    clock = Clock(okta_issuer.clock())
    okta_issuer.clock = clock
    build = fastapi_app if request.param == "fastapi" else starlette_app
    transport = httpx.ASGITransport(app=build(okta_issuer, clock))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        yield c, okta_issuer, clock


def mint(issuer: LocalIssuer, **claims: Any) -> dict[str, str]:
    claims.setdefault("scp", ["items:write"])
    claims.setdefault("acr", MFA)
    return bearer(issuer.mint(**claims))


Client = tuple[httpx.AsyncClient, LocalIssuer, Clock]


async def test_strong_recent_sign_in_passes(client: Client) -> None:
    """A listed acr with a fresh auth_time reaches the route."""
    c, issuer, _ = client
    response = await c.get("/transfer", headers=mint(issuer))
    assert (response.status_code, response.text.strip('"')) == (200, "sent")


async def test_weaker_acr_is_a_step_up_challenge(client: Client) -> None:
    """An unlisted acr: 401 insufficient_user_authentication naming acr_values, max_age, scope."""
    c, issuer, _ = client
    response = await c.get("/transfer", headers=mint(issuer, acr=PWD))
    assert response.status_code == 401
    assert response.json()["error"] == "insufficient_user_authentication"
    challenge = response.headers["www-authenticate"]
    assert 'error="insufficient_user_authentication"' in challenge
    assert f'acr_values="{MFA}"' in challenge
    assert 'max_age="300"' in challenge
    # The route's scopes, so that the token the client asks for next keeps them.
    assert 'scope="items:write"' in challenge


async def test_old_sign_in_is_a_step_up_challenge(client: Client) -> None:
    """An auth_time older than max_age is refused even with the right acr."""
    c, issuer, clock = client
    headers = mint(issuer, auth_time=int(clock()) - 301)
    response = await c.get("/transfer", headers=headers)
    assert response.status_code == 401
    assert 'max_age="300"' in response.headers["www-authenticate"]


async def test_token_without_auth_time_fails_max_age(client: Client) -> None:
    """A token with no auth_time (e.g. client credentials) cannot satisfy max_age."""
    c, issuer, _ = client
    response = await c.get("/transfer", headers=mint(issuer, auth_time=OMIT))
    assert response.status_code == 401
    assert response.json()["error"] == "insufficient_user_authentication"


async def test_missing_scope_is_still_403(client: Client) -> None:
    """Scopes are checked before the sign-in: a missing scope is insufficient_scope."""
    c, issuer, _ = client
    response = await c.get("/transfer", headers=mint(issuer, scp=["items:read"], acr=PWD))
    assert response.status_code == 403
    assert 'scope="items:write"' in response.headers["www-authenticate"]


async def test_check_auth_function(okta_issuer: LocalIssuer) -> None:
    """check_auth(request, acr_values=...) refuses and passes like the decorator."""
    clock = Clock(okta_issuer.clock())
    transport = httpx.ASGITransport(app=starlette_app(okta_issuer, clock))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        weak = await c.get("/checked", headers=mint(okta_issuer, acr=PWD))
        strong = await c.get("/checked", headers=mint(okta_issuer))
    assert weak.status_code == 401
    assert (strong.status_code, strong.text) == (200, "alice@example.com")


@pytest.mark.parametrize(
    "options", [{"acr_values": "one string"}, {"max_age": -5}, {"acr_values": ["a b"]}]
)
def test_bad_requirements_fail_at_declaration(options: dict[str, Any]) -> None:
    """Both require_auth spellings refuse bad acr_values/max_age when the route is declared."""
    with pytest.raises(ConfigurationError):
        require_auth(**options)
    with pytest.raises(ConfigurationError):
        ob_fastapi.require_auth(**options)
