"""BearerAuthMiddleware over httpx's ASGI transport."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterable, MutableMapping
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Mount, Route
from starlette.types import Receive, Scope, Send

from okta_bearer import (
    BearerAuthMiddleware,
    BearerUser,
    Claims,
    ConfigurationError,
    InsufficientScope,
    TokenVerifier,
)
from okta_bearer.testing import LocalIssuer

from .helpers import bearer

pytestmark = pytest.mark.anyio


async def whoami(request: Request) -> JSONResponse:
    user = request.user
    return JSONResponse(
        {
            "authenticated": user.is_authenticated,
            "sub": user.claims.sub if isinstance(user, BearerUser) else None,
            "scopes": sorted(request.auth.scopes),
        }
    )


async def admin(request: Request) -> PlainTextResponse:
    assert isinstance(request.user, BearerUser)
    if "admin" not in request.user.claims.scopes:
        raise InsufficientScope(["admin"])
    return PlainTextResponse("ok")


def build(issuer: LocalIssuer, **options: Any) -> Starlette:
    return Starlette(
        routes=[
            Route("/me", whoami),
            Route("/admin", admin),
            Route("/public/x", whoami),
            Route("/health", whoami),
        ],
        middleware=[Middleware(BearerAuthMiddleware, verifier=issuer.verifier(), **options)],
    )


@pytest.fixture
async def client(okta_issuer: LocalIssuer) -> AsyncIterator[httpx.AsyncClient]:
    app = build(okta_issuer, public_paths=["/health", "/public/"])
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://api"
    ) as c:
        yield c


async def test_valid_token_fills_user_and_auth(
    client: httpx.AsyncClient, okta_issuer: LocalIssuer
) -> None:
    """A valid token reaches the route with request.user and request.auth filled."""
    response = await client.get("/me", headers=bearer(okta_issuer.mint()))
    assert response.status_code == 200
    assert response.json() == {
        "authenticated": True,
        "sub": "alice@example.com",
        "scopes": ["items:read", "openid"],
    }


async def test_missing_token_bare_challenge(client: httpx.AsyncClient) -> None:
    """No token: 401 with a bare Bearer challenge (no error code) and a JSON body."""
    response = await client.get("/me")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer realm="api"'
    assert response.json()["error"] is None
    assert response.headers["cache-control"] == "no-store"


async def test_other_scheme_is_no_credentials(client: httpx.AsyncClient) -> None:
    """Basic credentials are not bearer credentials: bare challenge."""
    response = await client.get("/me", headers={"Authorization": "Basic dXNlcjpwYXNz"})
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer realm="api"'


async def test_invalid_token_401(client: httpx.AsyncClient, okta_issuer: LocalIssuer) -> None:
    """An expired token: 401 invalid_token with a description; the token is not echoed."""
    token = okta_issuer.mint(exp=1)
    response = await client.get("/me", headers=bearer(token))
    assert response.status_code == 401
    challenge = response.headers["www-authenticate"]
    assert (
        challenge
        == 'Bearer realm="api", error="invalid_token", error_description="Token has expired"'
    )
    assert response.json() == {"error": "invalid_token", "error_description": "Token has expired"}
    assert token.split(".")[1][:16] not in response.text


async def test_malformed_header_400(client: httpx.AsyncClient) -> None:
    """An empty bearer token is a 400 invalid_request."""
    response = await client.get("/me", headers={"Authorization": "Bearer "})
    assert response.status_code == 400
    assert 'error="invalid_request"' in response.headers["www-authenticate"]


async def test_two_authorization_headers_400(
    client: httpx.AsyncClient, okta_issuer: LocalIssuer
) -> None:
    """Two Authorization headers: 400, neither token used."""
    token = okta_issuer.mint()
    headers = [("Authorization", f"Bearer {token}"), ("Authorization", f"Bearer {token}")]
    response = await client.get("/me", headers=headers)
    assert response.status_code == 400


async def test_query_token_never_used(client: httpx.AsyncClient, okta_issuer: LocalIssuer) -> None:
    """access_token in the query string is ignored; with a header too it is a 400."""
    token = okta_issuer.mint()
    alone = await client.get("/me", params={"access_token": token})
    assert alone.status_code == 401
    assert alone.headers["www-authenticate"] == 'Bearer realm="api"'
    both = await client.get("/me", params={"access_token": token}, headers=bearer(token))
    assert both.status_code == 400


async def test_public_paths(client: httpx.AsyncClient) -> None:
    """Public paths (exact, or a prefix ending in '/') need no token."""
    assert (await client.get("/health")).json()["authenticated"] is False
    assert (await client.get("/public/x")).status_code == 200
    assert (await client.get("/healthz")).status_code == 401


async def test_insufficient_scope_raised_by_route(
    client: httpx.AsyncClient, okta_issuer: LocalIssuer
) -> None:
    """InsufficientScope raised inside the app becomes the RFC 6750 403 response."""
    response = await client.get("/admin", headers=bearer(okta_issuer.mint()))
    assert response.status_code == 403
    assert response.headers["www-authenticate"] == (
        'Bearer realm="api", error="insufficient_scope", '
        'error_description="The token lacks a required scope", scope="admin"'
    )
    assert (
        await client.get("/admin", headers=bearer(okta_issuer.mint(scp=["admin"])))
    ).text == "ok"


async def test_middleware_required_scopes(okta_issuer: LocalIssuer) -> None:
    """required_scopes given to the middleware are required on every protected request."""
    app = build(okta_issuer, required_scopes=["items:write"])
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://api"
    ) as c:
        denied = await c.get("/me", headers=bearer(okta_issuer.mint()))
        allowed = await c.get("/me", headers=bearer(okta_issuer.mint(scp=["items:write"])))
    assert denied.status_code == 403
    assert 'scope="items:write"' in denied.headers["www-authenticate"]
    assert allowed.status_code == 200


async def test_optional_mode(okta_issuer: LocalIssuer) -> None:
    """Optional mode lets anonymous requests through but still rejects invalid tokens."""
    app = build(okta_issuer, optional=True)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://api"
    ) as c:
        anonymous = await c.get("/me")
        invalid = await c.get("/me", headers=bearer(okta_issuer.mint(aud="x")))
        valid = await c.get("/me", headers=bearer(okta_issuer.mint()))
    assert anonymous.json()["authenticated"] is False
    assert invalid.status_code == 401
    assert valid.json()["authenticated"] is True


async def test_error_details_off(okta_issuer: LocalIssuer) -> None:
    """error_details=False sends bare challenges and no descriptions."""
    app = build(okta_issuer, error_details=False)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://api"
    ) as c:
        response = await c.get("/me", headers=bearer(okta_issuer.mint(exp=1)))
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer realm="api"'
    assert response.json() == {"error": None, "error_description": None}


async def test_plain_options_still_needs_a_token(client: httpx.AsyncClient) -> None:
    """An OPTIONS request that is not a preflight is protected like any other."""
    assert (await client.options("/me")).status_code == 401


async def test_lifespan_passes_through(okta_issuer: LocalIssuer) -> None:
    """Lifespan messages reach the app untouched."""
    seen: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(scope["type"])

    middleware = BearerAuthMiddleware(app, verifier=okta_issuer.verifier())

    async def receive() -> dict[str, Any]:
        return {"type": "lifespan.startup"}

    async def send(message: MutableMapping[str, Any]) -> None:
        pass

    await middleware({"type": "lifespan"}, receive, send)
    assert seen == ["lifespan"]


async def test_keys_unavailable_503_with_retry_after(okta_issuer: LocalIssuer) -> None:
    """When no keys can be had, the answer is 503 with Retry-After, not 401."""
    down = httpx.MockTransport(lambda r: httpx.Response(500))
    app = Starlette(
        routes=[Route("/me", whoami)],
        middleware=[
            Middleware(BearerAuthMiddleware, verifier=okta_issuer.verifier(transport=down))
        ],
    )
    async with (
        down,
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api") as c,
    ):
        response = await c.get("/me", headers=bearer(okta_issuer.mint()))
    assert response.status_code == 503
    assert int(response.headers["retry-after"]) >= 1
    assert "www-authenticate" not in response.headers
    assert json.loads(response.text)["error"] == "temporarily_unavailable"


OKTA = {"issuer": "https://example.okta.com/oauth2/default", "audience": "api://default"}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "issuer= and audience="),
        ({"issuer": OKTA["issuer"]}, "audience"),
        ({**OKTA, "public_paths": "/health"}, "public_paths"),
        ({**OKTA, "public_paths": ["health"]}, "public_paths"),
        ({**OKTA, "required_scopes": "items:read"}, "required_scopes"),
        ({**OKTA, "required_scopes": ["a b"]}, "required_scopes"),
        ({**OKTA, "realm": 'my "api"'}, "realm"),
        ({**OKTA, "on_error": "not callable"}, "on_error"),
        ({"verifier": object()}, "okta_bearer.Verifier"),
    ],
)
def test_middleware_configuration_errors(kwargs: dict[str, Any], message: str) -> None:
    """Missing or malformed middleware options fail at construction, naming the option."""
    with pytest.raises(ConfigurationError, match=message):
        BearerAuthMiddleware(PlainTextResponse("x"), **kwargs)


def test_verifier_and_options_are_exclusive(okta_issuer: LocalIssuer) -> None:
    """Passing both verifier= and verifier options is refused."""
    with pytest.raises(ConfigurationError, match="either"):
        BearerAuthMiddleware(PlainTextResponse("x"), verifier=okta_issuer.verifier(), audience="a")
    with pytest.raises(ConfigurationError, match="issuer"):
        BearerAuthMiddleware(PlainTextResponse("x"), audience="a")


def test_builds_its_own_verifier() -> None:
    """Given issuer and audience, the middleware builds a TokenVerifier."""
    middleware = BearerAuthMiddleware(
        PlainTextResponse("x"),
        issuer="https://example.okta.com/oauth2/default",
        audience="api://default",
    )
    assert isinstance(middleware.verifier, TokenVerifier)
    assert middleware.verifier.issuer == "https://example.okta.com/oauth2/default"


async def test_logs_never_contain_tokens(
    client: httpx.AsyncClient, okta_issuer: LocalIssuer, caplog: pytest.LogCaptureFixture
) -> None:
    """Denials are logged by reason code only; no token text reaches a log line."""
    caplog.set_level("DEBUG", logger="okta_bearer")
    tokens = [
        okta_issuer.mint(exp=1),
        okta_issuer.mint(aud="other"),
        okta_issuer.mint(header={"kid": "unknown-kid"}),
        okta_issuer.mint()[:-4] + "AAAA",
    ]
    for token in tokens:
        response = await client.get("/me", headers=bearer(token))
        assert response.status_code == 401
    assert caplog.records, "denials should be logged"
    logged = "\n".join(record.getMessage() for record in caplog.records)
    for token in tokens:
        for segment in token.split("."):
            assert segment[:20] not in logged


async def test_owned_verifier_closed_at_shutdown() -> None:
    """A verifier the middleware built from issuer/audience is closed when the app shuts down."""
    app = Starlette(routes=[Route("/me", whoami)])
    middleware = BearerAuthMiddleware(
        app, issuer="http://127.0.0.1:9/oauth2/default", audience="api://default"
    )
    issuer = LocalIssuer("http://127.0.0.1:9/oauth2/default")
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=middleware), base_url="http://t"
    ) as c:
        # Port 9 is closed: the fetch fails fast, but the verifier's own client now exists.
        assert (await c.get("/me", headers=bearer(issuer.mint()))).status_code == 503
    assert isinstance(middleware.verifier, TokenVerifier)
    client = middleware.verifier.keys._client
    assert client is not None
    assert not client.is_closed

    messages = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
    sent: list[str] = []

    async def receive() -> dict[str, Any]:
        return messages.pop(0)

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message["type"])

    await middleware({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}, receive, send)
    assert sent == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    assert client.is_closed


async def test_given_verifier_left_open_at_shutdown(okta_issuer: LocalIssuer) -> None:
    """A verifier passed in by the user is the user's to close."""
    verifier = okta_issuer.verifier()
    await verifier.verify(okta_issuer.mint())
    middleware = BearerAuthMiddleware(Starlette(), verifier=verifier)
    messages = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]

    async def receive() -> dict[str, Any]:
        return messages.pop(0)

    async def send(message: MutableMapping[str, Any]) -> None:
        pass

    await middleware({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}, receive, send)
    client = verifier.keys._client
    assert client is not None
    assert not client.is_closed
    await client.aclose()


async def catch_all(request: Request) -> PlainTextResponse:
    # A proxy-style handler: it trusts that only authenticated requests reach it.
    assert isinstance(request.user, BearerUser)
    return PlainTextResponse(f"proxied {request.method}")


PREFLIGHT = {
    "Origin": "http://spa",
    "Access-Control-Request-Method": "DELETE",
    "Access-Control-Request-Headers": "authorization",
}


@pytest.mark.parametrize("path", ["/proxy/anything", "/mounted/x"])
async def test_preflight_shaped_options_is_authenticated(
    okta_issuer: LocalIssuer, path: str
) -> None:
    """An OPTIONS with Access-Control-Request-Method reaching a catch-all or mount gets 401."""
    inner = Starlette(routes=[Route("/{rest:path}", catch_all, methods=["GET", "OPTIONS"])])
    app = Starlette(
        routes=[
            Route("/proxy/{rest:path}", catch_all, methods=["GET", "OPTIONS"]),
            Mount("/mounted", inner),
        ],
        middleware=[Middleware(BearerAuthMiddleware, verifier=okta_issuer.verifier())],
    )
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://api"
    ) as c:
        anonymous = await c.options(path, headers=PREFLIGHT)
        without_origin = await c.options(path, headers={"Access-Control-Request-Method": "GET"})
        signed_in = await c.options(path, headers=bearer(okta_issuer.mint()))
    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"] == 'Bearer realm="api"'
    assert without_origin.status_code == 401
    assert signed_in.text == "proxied OPTIONS"


async def test_fastapi_api_route_with_options_is_authenticated(okta_issuer: LocalIssuer) -> None:
    """A FastAPI api_route accepting OPTIONS and using require_scopes answers a preflight 401."""
    from fastapi import FastAPI

    from okta_bearer.fastapi import require_scopes

    app = FastAPI()
    app.add_middleware(BearerAuthMiddleware, verifier=okta_issuer.verifier())

    @app.api_route("/items", methods=["GET", "OPTIONS"])
    async def items(claims: Claims = require_scopes("items:read")) -> str:
        return "items"

    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://api"
    ) as c:
        response = await c.options("/items", headers=PREFLIGHT)
    assert response.status_code == 401


async def test_cors_outside_still_answers_preflights(okta_issuer: LocalIssuer) -> None:
    """With CORSMiddleware outside the bearer middleware, a real preflight gets its CORS 200."""
    app = Starlette(
        routes=[Route("/me", whoami)],
        middleware=[
            Middleware(
                CORSMiddleware,
                allow_origins=["http://spa"],
                allow_methods=["GET", "DELETE"],
                allow_headers=["authorization"],
                expose_headers=["www-authenticate"],
            ),
            Middleware(BearerAuthMiddleware, verifier=okta_issuer.verifier()),
        ],
    )
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://api"
    ) as c:
        preflight = await c.options("/me", headers=PREFLIGHT)
        denied = await c.get("/me", headers={"Origin": "http://spa"})
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == "http://spa"
    assert denied.status_code == 401
    assert denied.headers["access-control-expose-headers"] == "www-authenticate"


async def test_cors_inside_cannot_open_a_hole(okta_issuer: LocalIssuer) -> None:
    """CORS middleware placed inside ours never sees an unauthenticated preflight."""
    app = Starlette(
        routes=[Route("/me", whoami)],
        middleware=[
            Middleware(BearerAuthMiddleware, verifier=okta_issuer.verifier()),
            Middleware(CORSMiddleware, allow_origins=["http://spa"], allow_methods=["GET"]),
        ],
    )
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://api"
    ) as c:
        assert (await c.options("/me", headers=PREFLIGHT)).status_code == 401


class StaticVerifier:
    """A Verifier that is not a TokenVerifier: every token is the same caller."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, tuple[str, ...]]] = []

    async def verify(self, token: str, required_scopes: Iterable[str] = ()) -> Claims:
        self.seen.append((token, tuple(required_scopes)))
        payload = {"iss": "https://static", "aud": "api", "exp": 2**31, "sub": "static"}
        return Claims.from_payload({**payload, "scp": ["items:read"]})

    async def aclose(self) -> None:
        pass


async def test_any_verifier_protocol_object_is_accepted() -> None:
    """The middleware takes any okta_bearer.Verifier and checks required scopes on its claims."""
    verifier = StaticVerifier()
    app = BearerAuthMiddleware(
        Starlette(routes=[Route("/me", whoami)]), verifier=verifier, required_scopes=["items:read"]
    )
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://api"
    ) as c:
        response = await c.get("/me", headers=bearer("opaque-token"))
    assert response.json()["sub"] == "static"
    # Scopes are checked after the DPoP-binding check, so the verifier sees the token alone.
    assert verifier.seen == [("opaque-token", ())]
