"""OktaBearerRoute: scope checks without a FastAPI dependency per request, as FastAPI answers.

The sample app below declares claims dependencies every way FastAPI allows
(parameters, ``dependencies=``, routers with prefixes and their own
dependencies, a router left on the plain ``APIRoute``, a mounted sub-app, sync
and nested dependencies, step-up).  It is built twice: once with the routes
on :class:`OktaBearerRoute` (the checks done by the route) and once on
FastAPI's plain ``APIRoute`` (the checks done by FastAPI resolving the
dependency, as before).  Every operation the OpenAPI documents is called
with every kind of token, and both apps must answer byte for byte the same.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from itertools import product
from typing import Any

import httpx
import pytest
from fastapi import APIRouter, Depends, FastAPI, Request, Security, WebSocket
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute
from pydantic import BaseModel
from starlette.routing import BaseRoute, Mount
from starlette.testclient import TestClient, WebSocketDenialResponse

from okta_bearer import Claims
from okta_bearer.fastapi import (
    OktaBearerRoute,
    OktaBearerScheme,
    get_claims,
    protect,
    require_auth,
    require_scopes,
)
from okta_bearer.testing import DPoPKey, LocalIssuer

from ..helpers import bearer

pytestmark = pytest.mark.anyio

SCOPES = ("items:read", "items:write", "admin", "reports")


class NewItem(BaseModel):
    """A body, so that a scope-checked POST validates one."""

    name: str


def _view(claims: Claims) -> dict[str, Any]:
    return {"sub": claims.sub, "scopes": sorted(claims.scopes)}


def sample(issuer: LocalIssuer, route_class: type[APIRoute], **options: Any) -> FastAPI:
    """Claims dependencies declared every way FastAPI allows, on ``route_class`` routes."""
    app = FastAPI()
    protect(app, issuer.verifier(), public_paths=["/open"], **options)
    app.router.route_class = route_class

    @app.get("/open")
    async def open_route() -> dict[str, bool]:
        return {"open": True}

    @app.get("/me")
    async def me(claims: Claims = Depends(get_claims)) -> dict[str, Any]:
        return _view(claims)

    @app.get("/items/{name}")
    async def item(name: str, q: int = 0, claims: Claims = require_scopes("items:read")) -> Any:
        return {"name": name, "q": q, **_view(claims)}

    @app.post("/items", status_code=201)
    async def create(body: NewItem, claims: Claims = require_scopes("items:write")) -> Any:
        return {"created": body.name, **_view(claims)}

    @app.get("/several", dependencies=[require_scopes("admin")])
    async def several(
        claims: Claims = require_scopes("items:read"),
        again: Claims = Security(get_claims, scopes=["reports"]),
    ) -> Any:
        return {"same": claims is again, **_view(claims)}

    @app.get("/with-request")
    async def with_request(request: Request, claims: Claims = require_scopes("items:read")) -> Any:
        return {"path": request.url.path, **_view(claims)}

    @app.get("/sync")
    def sync(claims: Claims = require_scopes("items:read")) -> Any:
        return _view(claims)

    async def reporter(claims: Claims = require_scopes("reports")) -> str:
        return f"reporter {claims.sub}"

    @app.get("/nested")
    async def nested(who: str = Depends(reporter)) -> dict[str, str]:
        return {"who": who}

    @app.get("/step-up")
    async def step_up(claims: Claims = require_auth("items:read", max_age=300)) -> Any:
        return _view(claims)

    router = APIRouter(
        prefix="/admin", route_class=route_class, dependencies=[require_scopes("admin")]
    )

    @router.get("/stats")
    async def stats(claims: Claims = require_scopes("reports")) -> Any:
        return _view(claims)

    @router.get("/plain")
    async def plain() -> dict[str, bool]:
        return {"plain": True}

    app.include_router(router, prefix="/v1", dependencies=[require_scopes("items:read")])
    legacy = APIRouter()  # FastAPI's own APIRoute, whatever the app's route class

    @legacy.get("/legacy")
    async def legacy_route(claims: Claims = require_scopes("items:write")) -> Any:
        return _view(claims)

    app.include_router(legacy)
    # A mounted router; mounted apps are compared with the main app's routes
    # in test_mounted_apps.py.
    sub = APIRouter(route_class=route_class)

    @sub.get("/deep")
    async def deep(claims: Claims = require_scopes("reports")) -> Any:
        return _view(claims)

    app.mount("/sub", sub)

    @app.get("/two-scopes")
    async def two_scopes(claims: Claims = require_scopes("admin", "reports")) -> Any:
        return _view(claims)

    return app


def operations(
    routes: list[BaseRoute], prefix: str = ""
) -> Iterator[tuple[str, str, frozenset[str]]]:
    """Every HTTP operation of ``routes``, mounted ones included: (method, path, scopes).

    The scopes are those FastAPI's own OpenAPI generation finds in each
    route's dependency tree, wherever they are declared.
    """
    for path, methods in get_openapi(title="walk", version="0", routes=routes)["paths"].items():
        for method, operation in methods.items():
            scopes = {s for r in operation.get("security", []) for s in r.get("OktaBearer", [])}
            yield method.upper(), prefix + path.replace("{name}", "pen"), frozenset(scopes)
    for route in routes:
        if isinstance(route, Mount):
            yield from operations(route.routes, prefix + route.path)


def tokens(issuer: LocalIssuer) -> dict[str, dict[str, str]]:
    """Every kind of caller: none, each scope alone, all scopes, all but one, a bound token."""
    kinds: dict[str, dict[str, str]] = {"anonymous": {}, "no scope": bearer(issuer.mint(scp=[]))}
    for scope in SCOPES:
        kinds[scope] = bearer(issuer.mint(scp=[scope]))
        kinds[f"all but {scope}"] = bearer(issuer.mint(scp=[s for s in SCOPES if s != scope]))
    kinds["all"] = bearer(issuer.mint(scp=list(SCOPES)))
    kinds["old sign-in"] = bearer(issuer.mint(scp=list(SCOPES), auth_time=0))
    jkt = DPoPKey("ES256").jkt
    kinds["bound, as Bearer"] = bearer(issuer.mint(scp=list(SCOPES), cnf={"jkt": jkt}))
    return kinds


async def answers(app: FastAPI, calls: list[tuple[str, str, dict[str, str]]]) -> list[Any]:
    """Status, challenge and body of each call, in order."""
    transport = httpx.ASGITransport(app=app)
    found = []
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
        for method, path, headers in calls:
            body = {"name": "pen"} if method == "POST" else None
            response = await client.request(method, path, headers=headers, json=body)
            found.append(
                (response.status_code, response.headers.get("www-authenticate"), response.text)
            )
    return found


@pytest.fixture
def issuer(okta_issuer: LocalIssuer) -> LocalIssuer:
    """The suite's issuer."""
    return okta_issuer


@pytest.mark.parametrize(
    "options", [{}, {"optional": True}, {"resource": "https://api.example/v1"}], ids=str
)
async def test_every_operation_answers_as_fastapi_resolving_the_dependency(
    issuer: LocalIssuer, options: dict[str, Any]
) -> None:
    """Each operation answers every kind of caller exactly as with FastAPI's resolution."""
    fast = sample(issuer, OktaBearerRoute, **options)
    reference = sample(issuer, APIRoute, **options)
    found = list(operations(fast.routes))
    assert found == list(operations(reference.routes))
    assert len(found) == 14
    # Twice each: the first request and the ones after it take the same path.
    calls = [(m, p, h) for (m, p, _), h in product(found, tokens(issuer).values())] * 2
    answered = await answers(fast, calls)
    assert answered == await answers(reference, calls)
    if "resource" in options:  # RFC 9728 section 5.1: the 403 names the metadata too
        refused = [challenge for status, challenge, _ in answered if status == 403]
        assert refused
        assert all("resource_metadata=" in str(challenge) for challenge in refused)


async def test_no_scoped_operation_is_reachable_without_its_scopes(issuer: LocalIssuer) -> None:
    """Walking the sample's routes: a token lacking any one declared scope gets 403 naming it."""
    app = sample(issuer, OktaBearerRoute)
    scoped = [(m, p, s) for m, p, s in operations(app.routes) if s]
    assert len(scoped) == 12
    calls = []
    for (method, path, _), missing in ((op, s) for op in scoped for s in op[2]):
        held = [s for s in SCOPES if s != missing]
        calls.append((method, path, bearer(issuer.mint(scp=held)), missing))
    found = await answers(app, [c[:3] for c in calls] * 2)
    for (method, path, _, missing), (status, challenge, _) in zip(calls * 2, found, strict=True):
        assert status == 403, (method, path, missing)
        assert challenge is not None
        assert 'error="insufficient_scope"' in challenge
        named = challenge.split('scope="', 1)[1].split('"', 1)[0].split()
        assert missing in named, (method, path, challenge)


async def test_the_route_checks_scopes_without_resolving_the_dependency(
    issuer: LocalIssuer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """FastAPI never calls the scheme of an OktaBearerRoute; on a plain APIRoute, each time."""
    calls: list[str] = []
    original = OktaBearerScheme.__call__

    @functools.wraps(original)  # the same signature for FastAPI to read
    async def counted(self: OktaBearerScheme, *args: Any, **kwargs: Any) -> Claims:
        calls.append("called")
        return await original(self, *args, **kwargs)

    fast = sample(issuer, OktaBearerRoute)
    monkeypatch.setattr(OktaBearerScheme, "__call__", counted)
    headers = bearer(issuer.mint(scp=list(SCOPES)))
    for path in ("/items/pen", "/several", "/with-request", "/v1/admin/stats", "/sub/deep"):
        assert (await answers(fast, [("GET", path, headers)] * 3))[0][0] == 200
    assert calls == []
    reference = sample(issuer, APIRoute)
    assert (await answers(reference, [("GET", "/items/pen", headers)] * 3))[0][0] == 200
    assert calls == ["called"] * 3


async def test_routes_added_after_the_first_request_are_checked(issuer: LocalIssuer) -> None:
    """A route declared after the app has served is an OktaBearerRoute and checks its scopes."""
    app = FastAPI()
    protect(app, issuer.verifier())

    @app.get("/first")
    async def first() -> dict[str, bool]:
        return {"first": True}

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
        assert (await client.get("/first", headers=bearer(issuer.mint()))).status_code == 200

        @app.get("/later")
        async def later(claims: Claims = require_scopes("admin")) -> dict[str, Any]:
            return _view(claims)

        refused = await client.get("/later", headers=bearer(issuer.mint(scp=["items:read"])))
        allowed = await client.get("/later", headers=bearer(issuer.mint(scp=["admin"])))
    assert isinstance(app.routes[-1], OktaBearerRoute)
    assert refused.status_code == 403
    assert refused.headers["www-authenticate"].endswith('scope="admin"')
    assert allowed.json() == {"sub": "alice@example.com", "scopes": ["admin"]}


async def test_scopes_are_checked_before_the_routes_other_dependencies(
    issuer: LocalIssuer,
) -> None:
    """A caller without the scope never runs a dependency declared before the scope check."""
    app = FastAPI()
    protect(app, issuer.verifier())
    ran: list[str] = []

    async def audit() -> None:
        ran.append("audit")

    @app.get("/audited", dependencies=[Depends(audit), require_scopes("admin")])
    async def audited() -> dict[str, bool]:
        return {"ok": True}

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
        refused = await client.get("/audited", headers=bearer(issuer.mint(scp=["items:read"])))
        assert ran == []
        allowed = await client.get("/audited", headers=bearer(issuer.mint(scp=["admin"])))
    assert (refused.status_code, allowed.status_code) == (403, 200)
    assert ran == ["audit"]


async def test_an_override_of_get_claims_is_honoured(issuer: LocalIssuer) -> None:
    """dependency_overrides[get_claims] replaces the check as on a plain route, until removed."""
    app = FastAPI()
    protect(app, issuer.verifier(), optional=True)

    @app.get("/items")
    async def items(claims: Any = require_scopes("items:read")) -> dict[str, Any]:
        return {"sub": claims.sub}

    class Fake:
        sub = "test-user"

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
        app.dependency_overrides[get_claims] = Fake
        faked = await client.get("/items")
        app.dependency_overrides.clear()
        anonymous = await client.get("/items")
    assert faked.json() == {"sub": "test-user"}
    assert anonymous.status_code == 401


async def test_openapi_is_the_same_on_both_route_classes(issuer: LocalIssuer) -> None:
    """The route class changes nothing in the OpenAPI document: security, scopes, refusals."""
    fast, reference = sample(issuer, OktaBearerRoute), sample(issuer, APIRoute)
    assert fast.openapi() == reference.openapi()
    several = fast.openapi()["paths"]["/several"]["get"]
    assert {"OktaBearer": ["admin", "items:read", "reports"]} in several["security"]
    assert set(several["responses"]) >= {"400", "401", "403", "503"}


@pytest.fixture
def ws_client(issuer: LocalIssuer) -> Iterator[TestClient]:
    """A client of an app with a scope-checked WebSocket route."""
    app = FastAPI()
    protect(app, issuer.verifier())

    @app.websocket("/ws")
    async def ws(websocket: WebSocket, claims: Claims = require_scopes("items:read")) -> None:
        await websocket.accept()
        await websocket.send_json(_view(claims))
        await websocket.close()

    with TestClient(app) as client:
        yield client


def test_a_websocket_route_checks_its_scopes(ws_client: TestClient, issuer: LocalIssuer) -> None:
    """A WebSocket route with require_scopes refuses the handshake of a token without the scope."""
    allowed = bearer(issuer.mint(scp=["items:read"]))
    with ws_client.websocket_connect("/ws", headers=allowed) as ws:
        assert ws.receive_json() == {"sub": "alice@example.com", "scopes": ["items:read"]}
    for _ in range(2):
        with (
            pytest.raises(WebSocketDenialResponse) as caught,
            ws_client.websocket_connect("/ws", headers=bearer(issuer.mint(scp=["admin"]))),
        ):
            pass
        assert caught.value.status_code == 403
        assert caught.value.headers["www-authenticate"].endswith('scope="items:read"')


async def test_an_endpoint_without_the_middleware_fails_loudly(issuer: LocalIssuer) -> None:
    """An OktaBearerRoute on an app without the middleware raises, as the dependency does."""
    app = FastAPI()
    app.router.route_class = OktaBearerRoute

    @app.get("/items")
    async def items(claims: Claims = require_scopes("items:read")) -> str:
        return "never"

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
        with pytest.raises(RuntimeError, match="BearerAuthMiddleware"):
            await client.get("/items", headers=bearer(issuer.mint()))
