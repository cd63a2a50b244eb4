"""Refusals raised inside mounted apps: the same answers as a route of the main app.

A mounted Starlette or FastAPI app has its own ``ServerErrorMiddleware``, which
answers any exception raised inside it with a 500 before re-raising it, so a
missing scope in a mounted sub-app used to be a 500.  The sample below declares
the same endpoints on the main app, on included routers and in every kind of
mount (a FastAPI sub-app with and without ``protect()``, one mounted two levels
deep, a Starlette app, a plain ``Mount`` of Starlette routes); each must answer
every kind of caller exactly as the main app's own endpoint does.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import APIRouter, BackgroundTasks, Depends, FastAPI, Request, WebSocket
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.applications import Starlette
from starlette.requests import Request as StarletteRequest
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Mount, Route, Router, WebSocketRoute
from starlette.testclient import TestClient, WebSocketDenialResponse
from starlette.websockets import WebSocket as StarletteWebSocket
from starlette.websockets import WebSocketDisconnect

from okta_bearer import (
    BearerError,
    Claims,
    DPoPSettings,
    InsufficientScope,
    check_auth,
)
from okta_bearer import require_auth as starlette_require_auth
from okta_bearer._events import Events
from okta_bearer.fastapi import (
    OktaBearerRoute,
    get_claims,
    protect,
    require_auth,
    require_scopes,
)
from okta_bearer.testing import DPoPKey, LocalIssuer

from ..helpers import bearer

pytestmark = pytest.mark.anyio

BASE = "http://api"


def _view(claims: Claims) -> dict[str, Any]:
    return {"sub": claims.sub, "scopes": sorted(claims.scopes)}


def fastapi_endpoints(router: APIRouter | FastAPI) -> None:
    """The FastAPI endpoints: each way okta_bearer refuses inside a route."""

    @router.get("/scoped")
    async def scoped(claims: Claims = require_scopes("items:read")) -> Any:
        return _view(claims)

    @router.get("/step-up")
    async def step_up(claims: Claims = require_auth("items:read", max_age=300)) -> Any:
        return _view(claims)

    @router.get("/claims")
    async def claims_of(claims: Claims = Depends(get_claims)) -> Any:
        return _view(claims)

    @router.get("/sync")
    def sync(claims: Claims = require_scopes("items:read")) -> Any:
        return _view(claims)

    @router.get("/in-body")
    async def in_body(request: Request) -> Any:
        return _view(check_auth(request, "admin"))


@starlette_require_auth("items:read")
async def s_scoped(request: StarletteRequest) -> Response:
    """A Starlette endpoint behind okta_bearer's require_auth."""
    return JSONResponse(_view(request.user.claims))


@starlette_require_auth(max_age=300)
async def s_step_up(request: StarletteRequest) -> Response:
    """A Starlette endpoint needing a recent sign-in."""
    return JSONResponse(_view(request.user.claims))


async def s_in_body(request: StarletteRequest) -> Response:
    """A Starlette endpoint calling check_auth itself."""
    return JSONResponse(_view(check_auth(request, "admin")))


def starlette_routes() -> list[Route]:
    """The Starlette endpoints, as routes."""
    return [
        Route("/s-scoped", s_scoped),
        Route("/s-step-up", s_step_up),
        Route("/s-in-body", s_in_body),
    ]


FASTAPI_PATHS = ("/scoped", "/step-up", "/claims", "/sync", "/in-body")
STARLETTE_PATHS = ("/s-scoped", "/s-step-up", "/s-in-body")


def sub_app(**options: Any) -> FastAPI:
    """A FastAPI app with the FastAPI endpoints, to mount."""
    sub = FastAPI(**options)
    fastapi_endpoints(sub)
    return sub


def with_http_middleware(app: FastAPI) -> FastAPI:
    """``app`` with a ``BaseHTTPMiddleware`` of its own, as ``@app.middleware("http")`` adds."""

    @app.middleware("http")
    async def stamp(request: StarletteRequest, call_next: Any) -> Response:
        response: Response = await call_next(request)
        response.headers["x-stamped"] = "1"
        return response

    return app


def sample(issuer: LocalIssuer, **options: Any) -> tuple[FastAPI, dict[str, tuple[str, ...]]]:
    """The endpoints on the main app and in every kind of mount: (app, prefix -> paths)."""
    # A BaseHTTPMiddleware between the middleware and the mounts (declared
    # before protect()) relays a sub-app's 500 from a task of its own.
    app = with_http_middleware(FastAPI())
    protect(app, issuer.verifier(), **options)
    fastapi_endpoints(app)
    for route in starlette_routes():
        app.router.routes.append(route)
    included = APIRouter()
    fastapi_endpoints(included)
    app.include_router(included, prefix="/included")
    own_class = APIRouter(route_class=APIRoute)
    fastapi_endpoints(own_class)
    app.include_router(own_class, prefix="/own-class")
    app.mount("/sub", sub_app())
    app.mount("/debug", sub_app(debug=True))  # its 500 would be a traceback page
    app.mount("/stamped", with_http_middleware(sub_app()))
    fast = FastAPI()
    fast.router.route_class = OktaBearerRoute  # checked by the route, in a sub-app
    fastapi_endpoints(fast)
    app.mount("/sub-route-class", fast)
    protected = FastAPI()
    protect(protected, issuer.verifier(), **options)
    fastapi_endpoints(protected)
    app.mount("/protected", protected)
    outer = FastAPI()
    outer.mount("/inner", sub_app())
    app.mount("/deep", outer)
    app.mount("/starlette-app", Starlette(routes=starlette_routes()))
    app.router.routes.append(Mount("/starlette-mount", routes=starlette_routes()))
    app.mount("/router", Router(routes=starlette_routes()))
    mounts = {
        "": FASTAPI_PATHS + STARLETTE_PATHS,
        "/included": FASTAPI_PATHS,
        "/own-class": FASTAPI_PATHS,
        "/sub": FASTAPI_PATHS,
        "/debug": FASTAPI_PATHS,
        "/stamped": FASTAPI_PATHS,
        "/sub-route-class": FASTAPI_PATHS,
        "/protected": FASTAPI_PATHS,
        "/deep/inner": FASTAPI_PATHS,
        "/starlette-app": STARLETTE_PATHS,
        "/starlette-mount": STARLETTE_PATHS,
        "/router": STARLETTE_PATHS,
    }
    return app, mounts


def callers(issuer: LocalIssuer) -> dict[str, dict[str, str]]:
    """Every kind of caller an endpoint of the sample can refuse, and one it admits."""
    return {
        "anonymous": {},
        "no scope": bearer(issuer.mint(scp=[])),
        "items:read": bearer(issuer.mint(scp=["items:read"])),
        "all": bearer(issuer.mint(scp=["items:read", "admin"])),
        "old sign-in": bearer(issuer.mint(scp=["items:read", "admin"], auth_time=0)),
        "no auth_time": bearer(issuer.mint(scp=["items:read", "admin"])),
    }


async def answer(client: httpx.AsyncClient, path: str, headers: dict[str, str]) -> Any:
    """Status, every challenge and body of one GET."""
    response = await client.get(path, headers=headers)
    return response.status_code, response.headers.get_list("www-authenticate"), response.text


def client_of(app: Any, *, raise_app_exceptions: bool = True) -> httpx.AsyncClient:
    """An HTTP client calling ``app`` in process."""
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=raise_app_exceptions)
    return httpx.AsyncClient(transport=transport, base_url=BASE)


@pytest.mark.parametrize(
    "options",
    [{}, {"optional": True}, {"resource": "https://api.example/v1"}, {"realm": None}],
    ids=str,
)
async def test_every_mount_answers_as_the_main_app(
    okta_issuer: LocalIssuer, options: dict[str, Any]
) -> None:
    """Each endpoint answers each caller byte for byte as the main app's, never a 500."""
    app, mounts = sample(okta_issuer, **options)
    seen: set[int] = set()
    async with client_of(app) as client:
        for headers in callers(okta_issuer).values():
            for path in FASTAPI_PATHS + STARLETTE_PATHS:
                expected = await answer(client, path, headers)
                seen.add(expected[0])
                for prefix, paths in mounts.items():
                    if path in paths:
                        found = await answer(client, prefix + path, headers)
                        assert found == expected, (prefix + path, headers)
    assert seen == {200, 401, 403}


async def test_a_missing_scope_in_a_mounted_app_is_403_with_the_challenge(
    okta_issuer: LocalIssuer,
) -> None:
    """A mounted FastAPI app's require_scopes refusal is RFC 6750's 403 naming the scope."""
    app = FastAPI()
    protect(app, okta_issuer.verifier())
    app.mount("/v2", sub_app())
    async with client_of(app, raise_app_exceptions=False) as client:
        refused = await client.get("/v2/scoped", headers=bearer(okta_issuer.mint(scp=["x"])))
        step_up = await client.get(
            "/v2/step-up", headers=bearer(okta_issuer.mint(scp=["items:read"], auth_time=0))
        )
    assert refused.status_code == 403
    assert refused.headers["www-authenticate"] == (
        'Bearer realm="api", error="insufficient_scope", '
        'error_description="The token lacks a required scope", scope="items:read"'
    )
    assert refused.json()["error"] == "insufficient_scope"
    assert step_up.status_code == 401
    assert 'error="insufficient_user_authentication"' in step_up.headers["www-authenticate"]
    assert 'max_age="300"' in step_up.headers["www-authenticate"]


async def test_a_dpop_caller_refused_in_a_mounted_app_gets_the_dpop_challenge(
    okta_issuer: LocalIssuer,
) -> None:
    """With DPoP on, a mounted app's scope refusal goes on the DPoP challenge, as the main app's."""
    app = FastAPI()
    protect(app, okta_issuer.verifier(), dpop=DPoPSettings())
    fastapi_endpoints(app)
    app.mount("/v2", sub_app())
    key = DPoPKey()
    token = okta_issuer.mint(scp=[], cnf={"jkt": key.jkt})
    async with client_of(app) as client:
        found = []
        for path in ("/scoped", "/v2/scoped"):
            response = await client.get(path, headers=key.headers("GET", BASE + path, token))
            found.append((response.status_code, response.headers.get_list("www-authenticate")))
    assert found[0] == found[1]
    status, challenges = found[1]
    assert status == 403
    [dpop] = [c for c in challenges if c.startswith("DPoP ")]
    assert 'error="insufficient_scope"' in dpop
    assert all("error=" not in c for c in challenges if c.startswith("Bearer"))


class Recorder(Events):
    """Metric hooks that keep every reported request."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str]] = []

    def request(self, outcome: str, reason: str, seconds: float) -> None:
        """Keep the outcome and reason."""
        self.requests.append((outcome, reason))


async def test_a_refusal_in_a_mounted_app_is_reported_once_as_a_refusal(
    okta_issuer: LocalIssuer, caplog: pytest.LogCaptureFixture
) -> None:
    """Metrics and logs see a mounted app's refusal as the refusal it is, once, not an ok."""
    events = Recorder()
    app = FastAPI()
    protect(app, okta_issuer.verifier(), events=events)
    app.mount("/v2", sub_app())
    with caplog.at_level(logging.INFO, logger="okta_bearer"):
        async with client_of(app) as client:
            await client.get("/v2/scoped", headers=bearer(okta_issuer.mint(scp=[])))
            await client.get("/v2/scoped", headers=bearer(okta_issuer.mint(scp=["items:read"])))
    assert events.requests == [("insufficient_scope", "missing_scope"), ("ok", "ok")]
    assert [r.reason for r in caplog.records if hasattr(r, "reason")] == ["missing_scope"]


async def test_a_sub_apps_own_handler_for_refusals_is_kept(okta_issuer: LocalIssuer) -> None:
    """A mounted app that handles BearerError itself answers with its handler's response."""
    sub = sub_app()

    async def teapot(request: StarletteRequest, exc: Exception) -> Response:
        return PlainTextResponse(f"refused: {type(exc).__name__}", status_code=418)

    sub.add_exception_handler(BearerError, teapot)
    app = FastAPI()
    protect(app, okta_issuer.verifier())
    app.mount("/v2", sub)
    async with client_of(app) as client:
        response = await client.get("/v2/scoped", headers=bearer(okta_issuer.mint(scp=[])))
    assert (response.status_code, response.text) == (418, "refused: InsufficientScope")


@pytest.mark.parametrize("status", [503, 307, 500])
async def test_a_mounted_apps_catch_all_error_handler_does_not_hide_a_refusal(
    okta_issuer: LocalIssuer, status: int
) -> None:
    """A sub-app's handler for every exception (any status) gives way to the refusal's answer."""
    sub = sub_app()

    async def catch_all(request: StarletteRequest, exc: Exception) -> Response:
        return PlainTextResponse("something went wrong", status_code=status)

    sub.add_exception_handler(Exception, catch_all)
    app = FastAPI()
    protect(app, okta_issuer.verifier())
    app.mount("/v2", sub)
    async with client_of(app) as client:
        response = await client.get("/v2/scoped", headers=bearer(okta_issuer.mint(scp=[])))
    assert response.status_code == 403
    assert response.json()["error"] == "insufficient_scope"


async def test_other_errors_in_a_mounted_app_are_still_its_500(okta_issuer: LocalIssuer) -> None:
    """Only refusals are ours: another error keeps its 500 and propagates; a 500 answer stays."""
    sub = FastAPI()

    @sub.get("/boom")
    async def boom(claims: Claims = require_scopes("items:read")) -> None:
        raise LookupError("a bug")

    @sub.get("/own-500")
    async def own_500(claims: Claims = require_scopes("items:read")) -> Response:
        return PlainTextResponse("down for repairs", status_code=500)

    app = FastAPI()
    protect(app, okta_issuer.verifier())
    app.mount("/v2", sub)
    headers = bearer(okta_issuer.mint(scp=["items:read"]))
    async with client_of(app, raise_app_exceptions=False) as client:
        response = await client.get("/v2/boom", headers=headers)
        own = await client.get("/v2/own-500", headers=headers)
    assert (response.status_code, response.text) == (500, "Internal Server Error")
    assert (own.status_code, own.text) == (500, "down for repairs")
    async with client_of(app) as client:
        with pytest.raises(LookupError):
            await client.get("/v2/boom", headers=headers)


async def test_an_override_in_a_protected_sub_app_refusing_is_answered(
    okta_issuer: LocalIssuer,
) -> None:
    """A dependency override of get_claims in a mounted, protected app that refuses is a 403."""
    sub = FastAPI()
    protect(sub, okta_issuer.verifier())
    fastapi_endpoints(sub)

    def refuse() -> Claims:
        raise InsufficientScope(["overridden"])

    sub.dependency_overrides[get_claims] = refuse
    app = FastAPI()
    protect(app, okta_issuer.verifier())
    app.mount("/v2", sub)
    async with client_of(app) as client:
        response = await client.get("/v2/scoped", headers=bearer(okta_issuer.mint()))
    assert response.status_code == 403
    assert response.headers["www-authenticate"].endswith('scope="overridden"')


async def test_a_refusal_in_a_background_task_cannot_change_the_answer(
    okta_issuer: LocalIssuer,
) -> None:
    """A refusal raised after the answer was sent leaves it as sent and reaches the server."""
    sub = FastAPI()

    @sub.get("/later")
    async def later(request: Request, tasks: BackgroundTasks) -> dict[str, bool]:
        tasks.add_task(check_auth, request, "admin")
        return {"sent": True}

    app = FastAPI()
    protect(app, okta_issuer.verifier())
    app.mount("/v2", sub)
    async with client_of(app, raise_app_exceptions=False) as client:
        response = await client.get("/v2/later", headers=bearer(okta_issuer.mint(scp=[])))
    assert (response.status_code, response.json()) == (200, {"sent": True})
    async with client_of(app) as client:
        with pytest.raises(InsufficientScope):
            await client.get("/v2/later", headers=bearer(okta_issuer.mint(scp=[])))


# -- WebSockets ---------------------------------------------------------------


async def late_check(websocket: StarletteWebSocket) -> None:
    """Accept, then check a scope the caller may lack (a refusal after the handshake)."""
    await websocket.accept()
    claims = check_auth(websocket, "admin")
    await websocket.send_json(_view(claims))
    await websocket.close()


def socket_app(issuer: LocalIssuer) -> FastAPI:
    """WebSocket routes with scope checks in the main app and in a mounted one."""

    def declare(router: FastAPI) -> None:
        @router.websocket("/ws")
        async def ws(websocket: WebSocket, claims: Claims = require_scopes("items:read")) -> None:
            await websocket.accept()
            await websocket.send_json(_view(claims))
            await websocket.close()

        router.router.routes.append(WebSocketRoute("/late", late_check))

    app = FastAPI()
    protect(app, issuer.verifier())
    declare(app)
    sub = FastAPI()
    declare(sub)
    app.mount("/v2", sub)
    outer = FastAPI()
    outer.mount("/inner", sub)
    app.mount("/deep", outer)
    return app


@pytest.fixture
def socket_client(okta_issuer: LocalIssuer) -> Iterator[TestClient]:
    """A client of :func:`socket_app`."""
    with TestClient(socket_app(okta_issuer)) as client:
        yield client


@pytest.mark.parametrize("prefix", ["", "/v2", "/deep/inner"])
def test_a_websocket_lacking_a_scope_is_refused_at_the_handshake(
    socket_client: TestClient, okta_issuer: LocalIssuer, prefix: str
) -> None:
    """require_scopes on a WebSocket route, mounted or not: 403 with the challenge, no exception."""
    allowed = bearer(okta_issuer.mint(scp=["items:read"]))
    with socket_client.websocket_connect(prefix + "/ws", headers=allowed) as ws:
        assert ws.receive_json() == {"sub": "alice@example.com", "scopes": ["items:read"]}
    with (
        pytest.raises(WebSocketDenialResponse) as caught,
        socket_client.websocket_connect(prefix + "/ws", headers=bearer(okta_issuer.mint(scp=[]))),
    ):
        pass
    assert caught.value.status_code == 403
    assert caught.value.headers["www-authenticate"].endswith('scope="items:read"')


@pytest.mark.parametrize("prefix", ["", "/v2", "/deep/inner"])
def test_a_websocket_refused_after_the_handshake_is_closed_with_1008(
    socket_client: TestClient, okta_issuer: LocalIssuer, prefix: str
) -> None:
    """A refusal after accept closes the socket with 1008 (policy violation), not an exception."""
    with socket_client.websocket_connect(
        prefix + "/late", headers=bearer(okta_issuer.mint(scp=["admin"]))
    ) as ws:
        assert ws.receive_json()["scopes"] == ["admin"]
    with (
        socket_client.websocket_connect(
            prefix + "/late", headers=bearer(okta_issuer.mint(scp=[]))
        ) as ws,
        pytest.raises(WebSocketDisconnect) as closed,
    ):
        ws.receive_json()
    assert closed.value.code == 1008


def test_a_mounted_app_shares_the_main_apps_verifier_and_start_up_check(
    okta_issuer: LocalIssuer,
) -> None:
    """A mounted app gets no lifespan: the main app's start-up warms the verifier they share."""
    app = FastAPI()
    main = protect(app, okta_issuer.verifier())
    sub = FastAPI()
    protect(sub, main.verifier, startup_check="exit")  # its lifespan never runs
    fastapi_endpoints(sub)
    app.mount("/v2", sub)
    with TestClient(app) as client:
        assert okta_issuer.count("/v1/keys") == 1  # the main app's start-up check
        response = client.get("/v2/scoped", headers=bearer(okta_issuer.mint(scp=["items:read"])))
        assert response.status_code == 200
    assert okta_issuer.count("/v1/keys") == 1
