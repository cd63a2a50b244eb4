"""DPoP with tools no one here wrote: panva's ``dpop`` client library and oidc-provider.

Proofs come from the npm ``dpop`` package (run by ``provider/dpop_client.mjs``),
bound tokens from oidc-provider's DPoP feature (``provider/server.mjs``); only
the checking side, ``okta_bearer._dpop.proof`` and ``DPoPGuard``, is ours.  The last
tests send both through ``BearerAuthMiddleware`` under a real uvicorn on
127.0.0.1, byte for byte as the node client produced them.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from okta_bearer import (
    BearerAuthMiddleware,
    BearerUser,
    DPoPSettings,
    InvalidToken,
    TokenVerifier,
)
from okta_bearer._dpop.guard import DPoPGuard
from okta_bearer._dpop.proof import InvalidDPoPProof, check_proof

from ..servers import Server, serve
from .conftest import CLIENT_ID, CLIENT_SECRET, PROVIDER_DIR, OidcProvider

pytestmark = [pytest.mark.interop]

RESOURCE = "urn:okta-bearer:es256"  # aud api://interop-es256, ES256 (see provider/server.mjs)
AUDIENCE = "api://interop-es256"
API = "https://api.example.test/items"


class NodeDPoPClient:
    """A ``dpop_client.mjs`` process: one key pair, a proof per request line."""

    def __init__(self, alg: str) -> None:
        node = shutil.which("node")
        if node is None or not (PROVIDER_DIR / "node_modules" / "dpop").is_dir():
            pytest.fail(
                "the interop tests need Node.js and dpop installed: run .ci/install-interop.sh"
            )
        self.process = subprocess.Popen(  # noqa: S603 - node and our own script
            [node, "dpop_client.mjs", alg],
            cwd=PROVIDER_DIR,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.jkt: str = self._read()["jkt"]

    def _read(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            pytest.fail(f"dpop_client.mjs exited with {self.process.wait(timeout=30)}")
        answer: dict[str, Any] = json.loads(line)
        return answer

    def proof(self, htm: str, htu: str, access_token: str | None = None) -> str:
        """A dpop-package proof for ``htm`` and ``htu`` (with ``ath`` of ``access_token``)."""
        assert self.process.stdin is not None
        request = {"htm": htm, "htu": htu, "accessToken": access_token}
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        proof: str = self._read()["proof"]
        return proof

    def close(self) -> None:
        """End the node process."""
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        self.process.stdin.close()
        self.process.wait(timeout=30)
        self.process.stdout.close()


@pytest.fixture(scope="module", params=["ES256", "RS256", "PS256"])
def npm_client(request: pytest.FixtureRequest) -> Iterator[NodeDPoPClient]:
    """A dpop-package client for each algorithm it supports and we accept."""
    client = NodeDPoPClient(request.param)
    try:
        yield client
    finally:
        client.close()


@pytest.fixture(scope="module")
def other_client() -> Iterator[NodeDPoPClient]:
    """A second dpop-package client with a key of its own."""
    client = NodeDPoPClient("ES256")
    try:
        yield client
    finally:
        client.close()


def _dpop_token(provider: OidcProvider, client: NodeDPoPClient) -> str:
    """A client_credentials token from oidc-provider, bound to ``client``'s key."""
    proof = client.proof("POST", provider.token_endpoint)
    response = httpx.post(
        provider.token_endpoint,
        data={
            "grant_type": "client_credentials",
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "resource": RESOURCE,
            "scope": "items:read",
        },
        headers={"DPoP": proof},
        trust_env=False,
        timeout=30,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "DPoP"
    token: str = body["access_token"]
    return token


def _scope(method: str, url: str, headers: list[tuple[str, str]]) -> dict[str, Any]:
    parts = httpx.URL(url)
    return {
        "type": "http",
        "scheme": parts.scheme,
        "method": method,
        "path": parts.path,
        "raw_path": parts.raw_path.split(b"?")[0],
        "query_string": parts.query,
        "root_path": "",
        "headers": [(b"host", parts.netloc)] + [(k.encode(), v.encode()) for k, v in headers],
    }


async def _request(
    provider: OidcProvider,
    guard: DPoPGuard,
    method: str,
    url: str,
    scheme: str,
    token: str,
    proof: str | None,
) -> Any:
    """What the middleware will do for one request: verify the token, then the DPoP side."""
    headers = [("authorization", f"{scheme} {token}")] + ([("dpop", proof)] if proof else [])
    found = guard.credentials([f"{scheme} {token}".encode()])
    assert found is not None
    async with TokenVerifier(provider.issuer, AUDIENCE, algorithms=("ES256",)) as verifier:
        claims = await verifier.verify(token)
    return await guard.check(_scope(method, url, headers), found[0], found[1], claims)


def test_npm_proof_verifies(npm_client: NodeDPoPClient) -> None:
    """A proof from the dpop package passes every check; its thumbprint equals the package's."""
    proof = npm_client.proof("GET", API + "?page=2", "some.access.token")
    result = check_proof(
        proof, method="GET", url=API, now=time.time(), access_token="some.access.token"
    )
    assert result.jkt == npm_client.jkt


@pytest.mark.parametrize(
    ("method", "url", "token", "reason"),
    [
        ("POST", API, "some.access.token", "bad_htm"),
        ("GET", "https://api.example.test/other", "some.access.token", "bad_htu"),
        ("GET", "https://evil.example.test/items", "some.access.token", "bad_htu"),
        ("GET", API, "another.access.token", "bad_ath"),
    ],
)
def test_npm_proof_for_another_request_refused(
    npm_client: NodeDPoPClient, method: str, url: str, token: str, reason: str
) -> None:
    """A dpop-package proof made for one request is refused for another method, URL or token."""
    proof = npm_client.proof("GET", API, "some.access.token")
    with pytest.raises(InvalidDPoPProof) as caught:
        check_proof(proof, method=method, url=url, now=time.time(), access_token=token)
    assert caught.value.reason == reason


@pytest.mark.anyio
async def test_oidc_provider_bound_token_accepted_once(
    oidc_provider: OidcProvider, npm_client: NodeDPoPClient
) -> None:
    """oidc-provider's bound token with a dpop-package proof is accepted; the replay is refused."""
    token = _dpop_token(oidc_provider, npm_client)
    guard = DPoPGuard(DPoPSettings())
    proof = npm_client.proof("GET", API, token)
    result = await _request(oidc_provider, guard, "GET", API, "DPoP", token, proof)
    assert result.jkt == npm_client.jkt
    with pytest.raises(InvalidDPoPProof) as caught:
        await _request(oidc_provider, guard, "GET", API, "DPoP", token, proof)
    assert caught.value.reason == "replayed"


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("method", "url", "reason"),
    [("DELETE", API, "bad_htm"), ("GET", "https://api.example.test/admin", "bad_htu")],
)
async def test_oidc_provider_token_with_proof_for_another_request_refused(
    oidc_provider: OidcProvider, other_client: NodeDPoPClient, method: str, url: str, reason: str
) -> None:
    """The bound token with a proof made for another method or URL is invalid_dpop_proof."""
    token = _dpop_token(oidc_provider, other_client)
    proof = other_client.proof("GET", API, token)
    with pytest.raises(InvalidDPoPProof) as caught:
        await _request(oidc_provider, DPoPGuard(DPoPSettings()), method, url, "DPoP", token, proof)
    assert caught.value.reason == reason


@pytest.mark.anyio
async def test_oidc_provider_token_with_proof_by_another_key_refused(
    oidc_provider: OidcProvider, npm_client: NodeDPoPClient, other_client: NodeDPoPClient
) -> None:
    """A valid proof by a key the token is not bound to is invalid_token."""
    token = _dpop_token(oidc_provider, npm_client)
    proof = other_client.proof("GET", API, token)
    with pytest.raises(InvalidToken) as caught:
        await _request(oidc_provider, DPoPGuard(DPoPSettings()), "GET", API, "DPoP", token, proof)
    assert caught.value.reason == "dpop_key_mismatch"


@pytest.mark.anyio
async def test_oidc_provider_bound_token_as_bearer_refused(
    oidc_provider: OidcProvider, other_client: NodeDPoPClient
) -> None:
    """oidc-provider's DPoP-bound token sent as Bearer is refused (downgrade)."""
    token = _dpop_token(oidc_provider, other_client)
    with pytest.raises(InvalidToken) as caught:
        await _request(oidc_provider, DPoPGuard(DPoPSettings()), "GET", API, "Bearer", token, None)
    assert caught.value.reason == "dpop_downgrade"


# -- through the middleware, over real HTTP ------------------------------------


async def items(request: Request) -> JSONResponse:
    """The protected route: the key thumbprint the token is bound to."""
    user = request.user
    assert isinstance(user, BearerUser)
    return JSONResponse({"jkt": user.claims.jkt, "scopes": sorted(user.claims.scopes)})


@pytest.fixture(scope="module")
def api(oidc_provider: OidcProvider) -> Iterator[Server]:
    """The API, DPoP allowed, trusting oidc-provider, under a threaded uvicorn."""
    verifier = TokenVerifier(oidc_provider.issuer, AUDIENCE, algorithms=("ES256",))

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await verifier.aclose()  # on the server's own event loop

    app = Starlette(
        routes=[Route("/items", items, methods=["GET", "DELETE"])],
        middleware=[Middleware(BearerAuthMiddleware, verifier, dpop=DPoPSettings())],
        lifespan=lifespan,
    )
    with serve(app, lifespan="on") as server:
        yield server


def call(api: Server, method: str, headers: dict[str, str]) -> httpx.Response:
    """One request to ``/items`` on a fresh connection."""
    with httpx.Client(base_url=api.base_url, trust_env=False, timeout=30) as client:
        return client.request(method, "/items", headers=headers)


def error_on(response: httpx.Response, scheme: str) -> str | None:
    """The ``error`` of the response's challenge for ``scheme``."""
    for value in response.headers.get_list("www-authenticate"):
        if value.split(" ", 1)[0] == scheme:
            match = re.search(r'\berror="([^"]*)"', value)
            return match.group(1) if match else None
    raise AssertionError(f"no {scheme} challenge")


def test_http_bound_token_with_npm_proof_accepted_then_replay_refused(
    api: Server, oidc_provider: OidcProvider, npm_client: NodeDPoPClient
) -> None:
    """oidc-provider's bound token with a dpop-package proof is 200; the same proof again is 401."""
    token = _dpop_token(oidc_provider, npm_client)
    headers = {
        "authorization": f"DPoP {token}",
        "dpop": npm_client.proof("GET", f"{api.base_url}/items", token),
    }
    first = call(api, "GET", headers)
    assert first.status_code == 200, first.text
    assert first.json() == {"jkt": npm_client.jkt, "scopes": ["items:read"]}
    replay = call(api, "GET", headers)
    assert replay.status_code == 401
    assert error_on(replay, "DPoP") == "invalid_dpop_proof"


@pytest.mark.parametrize(
    ("method", "proof_method", "proof_path"),
    [("GET", "GET", "/other"), ("DELETE", "GET", "/items")],
    ids=["other-url", "other-method"],
)
def test_http_npm_proof_for_another_request_refused(
    api: Server,
    oidc_provider: OidcProvider,
    other_client: NodeDPoPClient,
    method: str,
    proof_method: str,
    proof_path: str,
) -> None:
    """A dpop-package proof made for another URL or method is 401 invalid_dpop_proof."""
    token = _dpop_token(oidc_provider, other_client)
    proof = other_client.proof(proof_method, f"{api.base_url}{proof_path}", token)
    response = call(api, method, {"authorization": f"DPoP {token}", "dpop": proof})
    assert response.status_code == 401
    assert error_on(response, "DPoP") == "invalid_dpop_proof"


def test_http_npm_proof_by_another_key_refused(
    api: Server,
    oidc_provider: OidcProvider,
    npm_client: NodeDPoPClient,
    other_client: NodeDPoPClient,
) -> None:
    """A valid dpop-package proof by a key the token is not bound to is 401 invalid_token."""
    token = _dpop_token(oidc_provider, npm_client)
    proof = other_client.proof("GET", f"{api.base_url}/items", token)
    response = call(api, "GET", {"authorization": f"DPoP {token}", "dpop": proof})
    assert response.status_code == 401
    assert error_on(response, "DPoP") == "invalid_token"


def test_http_bound_token_as_bearer_refused(
    api: Server, oidc_provider: OidcProvider, other_client: NodeDPoPClient
) -> None:
    """oidc-provider's bound token sent as Bearer is 401 invalid_token on the Bearer challenge."""
    token = _dpop_token(oidc_provider, other_client)
    response = call(api, "GET", {"authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert error_on(response, "Bearer") == "invalid_token"
    assert error_on(response, "DPoP") is None
