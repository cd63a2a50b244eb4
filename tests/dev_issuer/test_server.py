"""The dev issuer through a real uvicorn on 127.0.0.1: discovery, the flow, rotation."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from okta_bearer import TokenVerifier
from okta_bearer.dev_issuer import DevClient, DevIssuer
from okta_bearer.testing import LocalIssuer

from ..servers import loopback_socket, origin_of, serve
from .helpers import CLIENT_ID, PASSWORD, USER

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[DevIssuer, str]]:
    """A DevIssuer listening on a free loopback port; yields it and its issuer URL."""
    sock = loopback_socket()
    redirect = f"{origin_of(sock)}/callback"
    local = LocalIssuer(f"{origin_of(sock)}/oauth2/default", keys_max_age=300)
    dev = DevIssuer(local, clients=[DevClient(CLIENT_ID, (redirect,))])
    with serve(dev, sock=sock):
        yield dev, local.issuer


async def test_discovery_and_keys_over_http(served: tuple[DevIssuer, str]) -> None:
    """Over real HTTP, metadata names the issuer and /v1/keys carries Cache-Control."""
    dev, issuer = served
    async with httpx.AsyncClient() as http:
        meta = (await http.get(f"{issuer}/.well-known/openid-configuration")).json()
        assert meta["issuer"] == issuer
        keys = await http.get(meta["jwks_uri"])
    assert keys.headers["cache-control"] == "max-age=300, must-revalidate"
    assert [k["kid"] for k in keys.json()["keys"]] == [k.kid for k in dev.local.keys]


async def test_browserless_implicit_flow_and_verification(served: tuple[DevIssuer, str]) -> None:
    """Sign in over HTTP, reuse the session, and verify the token by discovery over the network."""
    dev, issuer = served
    redirect = next(iter(dev.clients.values())).redirect_uris[0]
    params = {
        "client_id": CLIENT_ID,
        "redirect_uri": redirect,
        "response_type": "token",
        "scope": "openid items:read",
        "state": "s-1",
    }
    async with httpx.AsyncClient() as browser:
        page = await browser.get(f"{issuer}/v1/authorize", params=params)
        assert page.status_code == 200
        txn = page.text.split('name="txn" value="', 1)[1].split('"', 1)[0]
        done = await browser.post(
            f"{issuer}/v1/login", data={"txn": txn, "username": USER, "password": PASSWORD}
        )
        assert done.status_code == 303
        token = done.headers["location"].split("access_token=", 1)[1].split("&", 1)[0]
        again = await browser.get(f"{issuer}/v1/authorize", params=params | {"prompt": "none"})
        assert again.status_code == 302
        assert "access_token=" in again.headers["location"]
    async with TokenVerifier(issuer, "api://default") as verifier:
        claims = await verifier.verify(token, ["items:read"])
    assert claims.sub == USER
    assert claims.issuer == issuer


async def test_api_verifier_survives_rotation(served: tuple[DevIssuer, str]) -> None:
    """After /dev/rotate a verifier holding the old keys accepts new-key tokens (kid refetch)."""
    dev, issuer = served
    async with (
        httpx.AsyncClient() as http,
        TokenVerifier(issuer, "api://default") as verifier,
    ):
        before = (await http.post(f"{issuer}/dev/mint", json={})).json()["access_token"]
        assert (await verifier.verify(before)).sub == USER
        rotated = await http.post(f"{issuer}/dev/rotate", json={"keep_old": True})
        assert rotated.status_code == 200
        after = (await http.post(f"{issuer}/dev/mint", json={})).json()["access_token"]
        assert (await verifier.verify(after)).sub == USER
        assert (await verifier.verify(before)).sub == USER
    assert rotated.json()["kid"] == dev.local.kid
