"""DPoP through BearerAuthMiddleware: every mode, every refusal, and its challenges."""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route, WebSocketRoute
from starlette.testclient import TestClient, WebSocketDenialResponse
from starlette.websockets import WebSocket

from okta_bearer import (
    BearerAuthMiddleware,
    BearerUser,
    ConfigurationError,
    DPoPSettings,
    InsufficientScope,
    MemoryStore,
)
from okta_bearer._dpop.nonce import NonceSource
from okta_bearer._store.memory import StoreUnavailable
from okta_bearer.testing import DPoPKey, LocalIssuer

pytestmark = pytest.mark.anyio

BASE = "http://api.example.test"
URL = f"{BASE}/me"
SECRET = b"s" * 32
ALGS = 'algs="ES256 ES384 Ed25519 EdDSA PS256 RS256"'
#: The bare DPoP challenge: algs, then RFC 6750's parameters (here the realm).
BARE_DPOP = f'DPoP {ALGS}, realm="api"'


async def whoami(request: Request) -> JSONResponse:
    """Echo the caller and the key its token is bound to."""
    user = request.user
    claims = user.claims if isinstance(user, BearerUser) else None
    return JSONResponse(
        {
            "authenticated": user.is_authenticated,
            "jkt": claims.jkt if claims is not None else None,
            "scopes": sorted(request.auth.scopes),
        }
    )


async def admin(request: Request) -> JSONResponse:
    """A route that needs a scope the tokens lack (the app raises)."""
    raise InsufficientScope(["admin"])


async def socket(websocket: WebSocket) -> None:
    """A WebSocket route answering the caller's key thumbprint."""
    await websocket.accept()
    user = websocket.scope["user"]
    await websocket.send_json({"jkt": user.claims.jkt})
    await websocket.close()


def build(issuer: LocalIssuer, dpop: DPoPSettings | None, **options: Any) -> Starlette:
    """A Starlette app behind the middleware with ``dpop`` settings."""
    return Starlette(
        routes=[Route("/me", whoami), Route("/admin", admin), WebSocketRoute("/ws", socket)],
        middleware=[Middleware(BearerAuthMiddleware, issuer.verifier(), dpop=dpop, **options)],
    )


Client = Callable[..., httpx.AsyncClient]


@pytest.fixture
async def client_for(okta_issuer: LocalIssuer) -> AsyncIterator[Client]:
    """Build a client for the app with given DPoP settings and middleware options."""
    clients: list[httpx.AsyncClient] = []

    def make(dpop: DPoPSettings | None, **options: Any) -> httpx.AsyncClient:
        app = build(okta_issuer, dpop, **options)
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE)
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.aclose()


@pytest.fixture
def key() -> DPoPKey:
    """The client's DPoP key."""
    return DPoPKey()


def challenges(response: httpx.Response) -> list[str]:
    """The ``WWW-Authenticate`` fields, in order."""
    return response.headers.get_list("www-authenticate")


def error_of(challenge: str) -> str | None:
    """The ``error`` attribute of one challenge."""
    match = re.search(r'\berror="([^"]*)"', challenge)
    return match.group(1) if match else None


def bound(issuer: LocalIssuer, key: DPoPKey, **claims: Any) -> str:
    """A token bound to ``key`` (``cnf.jkt``)."""
    return issuer.mint(cnf={"jkt": key.jkt}, **claims)


# -- modes ------------------------------------------------------------------


async def test_allowed_mode_accepts_dpop_and_exposes_jkt(
    client_for: Client, okta_issuer: LocalIssuer, key: DPoPKey
) -> None:
    """allowed: a bound token with a valid proof reaches the app; claims.jkt is the key's."""
    token = bound(okta_issuer, key)
    response = await client_for(DPoPSettings()).get("/me", headers=key.headers("GET", URL, token))
    assert response.status_code == 200
    assert response.json()["jkt"] == key.jkt


async def test_allowed_mode_accepts_plain_bearer(
    client_for: Client, okta_issuer: LocalIssuer
) -> None:
    """allowed: an unbound token sent as Bearer still works."""
    headers = {"authorization": f"Bearer {okta_issuer.mint()}"}
    response = await client_for(DPoPSettings()).get("/me", headers=headers)
    assert response.status_code == 200
    assert response.json()["jkt"] is None


async def test_required_mode_accepts_dpop(
    client_for: Client, okta_issuer: LocalIssuer, key: DPoPKey
) -> None:
    """required: a bound token with a valid proof reaches the app."""
    token = bound(okta_issuer, key)
    client = client_for(DPoPSettings(mode="required"))
    response = await client.get("/me", headers=key.headers("GET", URL, token))
    assert response.status_code == 200


async def test_required_mode_refuses_bearer_with_dpop_challenge_only(
    client_for: Client, okta_issuer: LocalIssuer
) -> None:
    """required: Bearer credentials are no credentials: 401, one bare DPoP challenge."""
    headers = {"authorization": f"Bearer {okta_issuer.mint()}"}
    response = await client_for(DPoPSettings(mode="required")).get("/me", headers=headers)
    assert response.status_code == 401
    assert challenges(response) == [BARE_DPOP]


async def test_bearer_mode_refuses_dpop_scheme_with_bearer_challenge(
    client_for: Client, okta_issuer: LocalIssuer, key: DPoPKey
) -> None:
    """bearer: the DPoP scheme is no credentials: 401 with a bare Bearer challenge only."""
    token = bound(okta_issuer, key)
    client = client_for(DPoPSettings(mode="bearer"))
    response = await client.get("/me", headers=key.headers("GET", URL, token))
    assert response.status_code == 401
    assert challenges(response) == ['Bearer realm="api"']


async def test_bearer_mode_refuses_bound_token_as_bearer(
    client_for: Client, okta_issuer: LocalIssuer, key: DPoPKey
) -> None:
    """bearer: a DPoP-bound token sent as Bearer is 401 invalid_token (RFC 9449 section 7.2)."""
    headers = {"authorization": f"Bearer {bound(okta_issuer, key)}"}
    response = await client_for(DPoPSettings(mode="bearer")).get("/me", headers=headers)
    assert response.status_code == 401
    [bearer] = challenges(response)
    assert error_of(bearer) == "invalid_token"


async def test_without_dpop_settings_bound_tokens_are_still_not_bearer_tokens(
    client_for: Client, okta_issuer: LocalIssuer, key: DPoPKey
) -> None:
    """dpop=None: DPoP is unknown (bare challenge), and a bound token sent as Bearer is refused."""
    client = client_for(None)
    token = bound(okta_issuer, key)
    refused = await client.get("/me", headers=key.headers("GET", URL, token))
    assert refused.status_code == 401
    assert challenges(refused) == ['Bearer realm="api"']
    downgraded = await client.get("/me", headers={"authorization": f"Bearer {token}"})
    assert downgraded.status_code == 401
    assert 'error="invalid_token"' in challenges(downgraded)[0]
    plain = await client.get("/me", headers={"authorization": f"Bearer {okta_issuer.mint()}"})
    assert plain.status_code == 200


# -- challenges (RFC 9449 section 7.1) ---------------------------------------


async def test_no_credentials_get_both_bare_challenges(client_for: Client) -> None:
    """allowed, no Authorization: 401 with a bare Bearer and a bare DPoP challenge."""
    response = await client_for(DPoPSettings()).get("/me")
    assert response.status_code == 401
    assert challenges(response) == ['Bearer realm="api"', BARE_DPOP]


async def test_bound_token_as_bearer_error_on_bearer_challenge(
    client_for: Client, okta_issuer: LocalIssuer, key: DPoPKey
) -> None:
    """allowed: the downgrade's invalid_token goes on Bearer; DPoP stays bare."""
    headers = {"authorization": f"Bearer {bound(okta_issuer, key)}"}
    response = await client_for(DPoPSettings()).get("/me", headers=headers)
    assert response.status_code == 401
    bearer, dpop = challenges(response)
    assert error_of(bearer) == "invalid_token"
    assert dpop == BARE_DPOP


async def test_bad_proof_error_on_dpop_challenge(
    client_for: Client, okta_issuer: LocalIssuer, key: DPoPKey
) -> None:
    """allowed: a proof for another URL is 401 invalid_dpop_proof on the DPoP challenge only."""
    token = bound(okta_issuer, key)
    headers = key.headers("GET", f"{BASE}/other", token)
    response = await client_for(DPoPSettings()).get("/me", headers=headers)
    assert response.status_code == 401
    bearer, dpop = challenges(response)
    assert bearer == 'Bearer realm="api"'
    assert dpop.startswith(f'{BARE_DPOP}, error="invalid_dpop_proof"')
    assert error_of(dpop) == "invalid_dpop_proof"
    assert response.json()["error"] == "invalid_dpop_proof"


async def test_error_details_off_leaves_dpop_challenge_bare(
    client_for: Client, okta_issuer: LocalIssuer, key: DPoPKey
) -> None:
    """error_details=False: a bad proof gets bare challenges, still 401."""
    token = bound(okta_issuer, key)
    headers = key.headers("POST", URL, token)
    response = await client_for(DPoPSettings(), error_details=False).get("/me", headers=headers)
    assert response.status_code == 401
    assert challenges(response) == ['Bearer realm="api"', BARE_DPOP]


async def test_malformed_header_in_required_mode_error_on_dpop(client_for: Client) -> None:
    """required: two Authorization headers are 400 invalid_request on the DPoP challenge."""
    headers = [("authorization", "DPoP a"), ("authorization", "DPoP b")]
    response = await client_for(DPoPSettings(mode="required")).get("/me", headers=headers)
    assert response.status_code == 400
    [dpop] = challenges(response)
    assert error_of(dpop) == "invalid_request"


async def test_on_error_body_keeps_dpop_challenges(
    client_for: Client, okta_issuer: LocalIssuer, key: DPoPKey
) -> None:
    """A custom on_error body changes the body only, not the DPoP challenges."""
    token = bound(okta_issuer, key)
    client = client_for(DPoPSettings(), on_error=lambda error: {"oops": error.error})
    response = await client.get("/me", headers=key.headers("PUT", URL, token))
    assert response.json() == {"oops": "invalid_dpop_proof"}
    assert error_of(challenges(response)[1]) == "invalid_dpop_proof"


# -- the proof and the binding ------------------------------------------------


async def test_dpop_scheme_without_proof_is_a_failed_proof(
    client_for: Client, okta_issuer: LocalIssuer, key: DPoPKey
) -> None:
    """DPoP scheme without a proof: 401 invalid_dpop_proof, as for two proofs (RFC 9449 7.1)."""
    token = bound(okta_issuer, key)
    client = client_for(DPoPSettings())
    missing = await client.get("/me", headers={"authorization": f"DPoP {token}"})
    proof = key.proof("GET", URL, token)
    two = await client.get(
        "/me",
        headers=[("authorization", f"DPoP {token}"), ("dpop", proof), ("dpop", proof)],
    )
    for response in (missing, two):
        assert response.status_code == 401
        assert error_of(challenges(response)[1]) == "invalid_dpop_proof"
        assert response.json()["error"] == "invalid_dpop_proof"


async def test_replayed_proof_refused(
    client_for: Client, okta_issuer: LocalIssuer, key: DPoPKey
) -> None:
    """The same proof sent twice: the first is accepted, the replay is invalid_dpop_proof."""
    client = client_for(DPoPSettings())
    headers = key.headers("GET", URL, bound(okta_issuer, key))
    assert (await client.get("/me", headers=headers)).status_code == 200
    replay = await client.get("/me", headers=headers)
    assert replay.status_code == 401
    assert error_of(challenges(replay)[1]) == "invalid_dpop_proof"


async def test_proof_by_another_key_refused(
    client_for: Client, okta_issuer: LocalIssuer, key: DPoPKey
) -> None:
    """A valid proof by a key the token is not bound to: 401 invalid_token on DPoP."""
    token = bound(okta_issuer, key)
    response = await client_for(DPoPSettings()).get(
        "/me", headers=DPoPKey().headers("GET", URL, token)
    )
    assert response.status_code == 401
    assert error_of(challenges(response)[1]) == "invalid_token"


async def test_unbound_token_as_dpop_refused(
    client_for: Client, okta_issuer: LocalIssuer, key: DPoPKey
) -> None:
    """A token without cnf.jkt under the DPoP scheme: 401 invalid_token on DPoP."""
    headers = key.headers("GET", URL, okta_issuer.mint())
    response = await client_for(DPoPSettings()).get("/me", headers=headers)
    assert response.status_code == 401
    assert error_of(challenges(response)[1]) == "invalid_token"


async def test_query_is_ignored_for_htu(
    client_for: Client, okta_issuer: LocalIssuer, key: DPoPKey
) -> None:
    """A proof for the URL without its query is accepted for the request with one."""
    headers = key.headers("GET", URL, bound(okta_issuer, key))
    response = await client_for(DPoPSettings()).get("/me?page=2", headers=headers)
    assert response.status_code == 200


async def test_required_scopes_checked_after_the_proof(
    client_for: Client, okta_issuer: LocalIssuer, key: DPoPKey
) -> None:
    """A bad proof on a token lacking the required scope is 401, not 403 (no scope hint)."""
    token = bound(okta_issuer, key)
    client = client_for(DPoPSettings(), required_scopes=["admin"])
    bad = await client.get("/me", headers=key.headers("GET", f"{BASE}/x", token))
    assert bad.status_code == 401
    good = await client.get("/me", headers=key.headers("GET", URL, token))
    assert good.status_code == 403
    dpop = challenges(good)[1]
    assert error_of(dpop) == "insufficient_scope"
    assert 'scope="admin"' in dpop


async def test_app_refusal_goes_on_the_scheme_used(
    client_for: Client, okta_issuer: LocalIssuer, key: DPoPKey
) -> None:
    """An InsufficientScope the app raises for a DPoP request is on the DPoP challenge."""
    token = bound(okta_issuer, key)
    response = await client_for(DPoPSettings()).get(
        "/admin", headers=key.headers("GET", f"{BASE}/admin", token)
    )
    assert response.status_code == 403
    bearer, dpop = challenges(response)
    assert error_of(bearer) is None
    assert error_of(dpop) == "insufficient_scope"


# -- nonces (RFC 9449 section 9) ---------------------------------------------


async def test_nonce_required_then_accepted(
    client_for: Client, okta_issuer: LocalIssuer, key: DPoPKey
) -> None:
    """With nonces on, a proof without one is 401 use_dpop_nonce + DPoP-Nonce; the retry passes."""
    client = client_for(DPoPSettings(nonce_secret=SECRET))
    token = bound(okta_issuer, key)
    first = await client.get("/me", headers=key.headers("GET", URL, token))
    assert first.status_code == 401
    assert error_of(challenges(first)[1]) == "use_dpop_nonce"
    nonce = first.headers["dpop-nonce"]
    retry = await client.get("/me", headers=key.headers("GET", URL, token, nonce=nonce))
    assert retry.status_code == 200


async def test_stale_nonce_gets_a_fresh_one(
    client_for: Client, okta_issuer: LocalIssuer, key: DPoPKey
) -> None:
    """A nonce from long ago is use_dpop_nonce with a different, current DPoP-Nonce."""
    old = NonceSource(SECRET, 300).current(1_000_000_000.0)
    client = client_for(DPoPSettings(nonce_secret=SECRET))
    response = await client.get(
        "/me", headers=key.headers("GET", URL, bound(okta_issuer, key), nonce=old)
    )
    assert response.status_code == 401
    assert error_of(challenges(response)[1]) == "use_dpop_nonce"
    assert response.headers["dpop-nonce"] not in ("", old)


async def test_expiring_nonce_is_renewed_on_success(
    client_for: Client, okta_issuer: LocalIssuer, key: DPoPKey
) -> None:
    """A 200 whose proof used the previous step's nonce carries the current one (RFC 9449 9)."""
    step = 86400  # one boundary a day: the test cannot straddle one
    source = NonceSource(SECRET, step)
    client = client_for(DPoPSettings(nonce_secret=SECRET, nonce_step=step))
    token = bound(okta_issuer, key)
    expiring = source.current(time.time() - step)
    response = await client.get("/me", headers=key.headers("GET", URL, token, nonce=expiring))
    assert response.status_code == 200
    current = response.headers["dpop-nonce"]
    assert current == source.current(time.time()) != expiring
    again = await client.get("/me", headers=key.headers("GET", URL, token, nonce=current))
    assert again.status_code == 200
    assert "dpop-nonce" not in again.headers


# -- the replay store ---------------------------------------------------------


class DownStore(MemoryStore):
    """A store whose every call fails, as an unreachable Redis does."""

    async def set_if_absent(self, key: str, value: bytes, ttl: float) -> bool:
        raise StoreUnavailable("down")


async def test_store_outage_dpop_503_bearer_unaffected(
    client_for: Client, okta_issuer: LocalIssuer, key: DPoPKey
) -> None:
    """Store down, fail closed: DPoP is 503 with Retry-After and no challenge; Bearer is 200."""
    client = client_for(DPoPSettings(store=DownStore(), retry_after=7))
    response = await client.get("/me", headers=key.headers("GET", URL, bound(okta_issuer, key)))
    assert response.status_code == 503
    assert response.headers["retry-after"] == "7"
    assert "www-authenticate" not in response.headers
    plain = await client.get("/me", headers={"authorization": f"Bearer {okta_issuer.mint()}"})
    assert plain.status_code == 200


async def test_store_outage_fail_open_accepts(
    client_for: Client, okta_issuer: LocalIssuer, key: DPoPKey
) -> None:
    """Store down, store_failure=fail_open: the DPoP request is accepted without a replay mark."""
    client = client_for(DPoPSettings(store=DownStore(), store_failure="fail_open"))
    response = await client.get("/me", headers=key.headers("GET", URL, bound(okta_issuer, key)))
    assert response.status_code == 200


async def test_replay_marks_go_to_the_given_store(
    client_for: Client, okta_issuer: LocalIssuer, key: DPoPKey
) -> None:
    """An accepted proof leaves exactly one mark in the configured store."""
    store = MemoryStore()
    client = client_for(DPoPSettings(store=store))
    response = await client.get("/me", headers=key.headers("GET", URL, bound(okta_issuer, key)))
    assert response.status_code == 200
    assert len(store) == 1


async def test_store_built_from_url_closed_at_shutdown(okta_issuer: LocalIssuer) -> None:
    """A Redis URL as store becomes a RedisStore that the middleware closes at lifespan shutdown."""
    settings = DPoPSettings(store="redis://127.0.0.1:1/0")
    assert settings.owns_store
    closed: list[bool] = []
    store = settings.replay_store

    async def aclose() -> None:
        closed.append(True)

    store.aclose = aclose  # type: ignore[method-assign]
    app = build(okta_issuer, settings)
    messages = iter([{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}])
    sent: list[str] = []

    async def receive() -> Any:
        return next(messages)

    async def send(message: Any) -> None:
        sent.append(message["type"])

    await app({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}, receive, send)
    assert sent == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    assert closed == [True]


def test_dpop_option_must_be_settings(okta_issuer: LocalIssuer) -> None:
    """dpop='allowed' (a string) is a ConfigurationError naming the option."""
    with pytest.raises(ConfigurationError, match="dpop"):
        BearerAuthMiddleware(whoami, okta_issuer.verifier(), dpop="allowed")  # type: ignore[arg-type]


# -- WebSocket handshakes -------------------------------------------------------


def test_websocket_handshake_with_dpop(okta_issuer: LocalIssuer, key: DPoPKey) -> None:
    """A WebSocket handshake with a proof for the http:// form of the ws:// URL is accepted."""
    token = bound(okta_issuer, key)
    app = build(okta_issuer, DPoPSettings(mode="required"))
    with TestClient(app) as client:
        headers = key.headers("GET", "http://testserver/ws", token)
        with client.websocket_connect("/ws", headers=headers) as ws:
            assert ws.receive_json() == {"jkt": key.jkt}


def test_websocket_handshake_with_bad_proof_refused(okta_issuer: LocalIssuer, key: DPoPKey) -> None:
    """A handshake whose proof names another URL is refused with the DPoP challenge."""
    token = bound(okta_issuer, key)
    app = build(okta_issuer, DPoPSettings(mode="required"))
    with TestClient(app) as client:
        headers = key.headers("GET", "http://testserver/other", token)
        with (
            pytest.raises(WebSocketDenialResponse) as caught,
            client.websocket_connect("/ws", headers=headers),
        ):
            pass
    assert caught.value.status_code == 401
    assert error_of(caught.value.headers["www-authenticate"]) == "invalid_dpop_proof"


# -- htu and the routed path (issue 14, item 3) ---------------------------------


async def asgi_get(app: Any, raw_path: bytes, path: str, headers: dict[str, str]) -> int:
    """Send one GET with exactly this raw path (no client normalises it); the status."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "scheme": "http",
        "method": "GET",
        "path": path,
        "raw_path": raw_path,
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"api.example.test")]
        + [(k.encode(), v.encode()) for k, v in headers.items()],
        "server": ("api.example.test", 80),
        "client": ("127.0.0.1", 5000),
    }
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return int(sent[0]["status"])


async def admin_catch_all(request: Request) -> JSONResponse:
    """Everything under /admin: what a path with dot segments is routed to."""
    return JSONResponse({"admin": request.path_params["rest"]})


@pytest.mark.parametrize(
    ("raw", "path"),
    [
        (b"/admin/../me", "/admin/../me"),
        (b"/admin/%2E%2E/me", "/admin/../me"),
        (b"/admin/%2e%2e/me", "/admin/../me"),
        (b"/admin/./../me", "/admin/./../me"),
        (b"/admin%2F..%2Fme", "/admin/../me"),
    ],
)
async def test_proof_for_me_does_not_authorise_a_path_routed_elsewhere(
    okta_issuer: LocalIssuer, key: DPoPKey, raw: bytes, path: str
) -> None:
    """A proof for GET /me cannot reach /admin/{rest} through dot segments: refused (400)."""
    app = Starlette(
        routes=[Route("/me", whoami), Route("/admin/{rest:path}", admin_catch_all)],
        middleware=[Middleware(BearerAuthMiddleware, okta_issuer.verifier(), dpop=DPoPSettings())],
    )
    token = bound(okta_issuer, key)
    assert await asgi_get(app, b"/me", "/me", key.headers("GET", URL, token)) == 200
    assert await asgi_get(app, raw, path, key.headers("GET", URL, token)) == 400


@pytest.mark.parametrize("algorithm", ["Ed25519", "EdDSA"])
async def test_ed25519_proofs_accepted_by_default(
    client_for: Client, okta_issuer: LocalIssuer, algorithm: str
) -> None:
    """The fully specified Ed25519 (RFC 9864) is accepted beside EdDSA, and advertised."""
    signer = DPoPKey(algorithm)
    client = client_for(DPoPSettings())
    headers = signer.headers("GET", URL, bound(okta_issuer, signer))
    response = await client.get("/me", headers=headers)
    assert response.status_code == 200
    assert response.json()["jkt"] == signer.jkt
    assert "Ed25519" in DPoPSettings().algorithms
    assert DPoPSettings(algorithms=["Ed25519"]).algorithms == ("Ed25519",)


async def test_two_host_headers_are_400_with_dpop(okta_issuer: LocalIssuer, key: DPoPKey) -> None:
    """The htu is rebuilt from one Host only: two Host headers are 400, whatever their values."""
    app = build(okta_issuer, DPoPSettings())
    token = bound(okta_issuer, key)
    assert await asgi_get(app, b"/me", "/me", key.headers("GET", URL, token)) == 200
    # asgi_get sends one Host already; this is a second, identical one.
    second_host = {**key.headers("GET", URL, token), "host": "api.example.test"}
    assert await asgi_get(app, b"/me", "/me", second_host) == 400
