"""Lifespan start-up fetches the issuer's metadata and keys, and reports what is wrong at once."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import MutableMapping
from typing import Any

import httpx
import pytest
from starlette.types import Receive, Scope, Send

from okta_bearer import (
    BearerAuthMiddleware,
    ConfigurationError,
    IntrospectionVerifier,
    KeyPolicy,
    MultiIssuerVerifier,
    TokenShapeVerifier,
    TokenVerifier,
)
from okta_bearer.testing import IntrospectionServer, LocalIssuer

ISSUER = "https://okta.example.test/oauth2/default"
OTHER = "https://other.example.test/oauth2/default"


class App:
    """An ASGI app that records whether its own lifespan start-up ran."""

    def __init__(self) -> None:
        self.started = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            message = await receive()
            assert message["type"] == "lifespan.startup"
            self.started = True
            await send({"type": "lifespan.startup.complete"})
            await receive()
            await send({"type": "lifespan.shutdown.complete"})
            return
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})


async def start(middleware: BearerAuthMiddleware) -> MutableMapping[str, Any]:
    """Run lifespan start-up (and shutdown, when it succeeded); the server's first answer."""
    inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    outbox: asyncio.Queue[MutableMapping[str, Any]] = asyncio.Queue()
    await inbox.put({"type": "lifespan.startup"})
    task = asyncio.create_task(middleware({"type": "lifespan"}, inbox.get, outbox.put))
    first = await asyncio.wait_for(outbox.get(), 30)
    if first["type"] == "lifespan.startup.complete":
        await inbox.put({"type": "lifespan.shutdown"})
        assert (await outbox.get())["type"] == "lifespan.shutdown.complete"
    await asyncio.wait_for(task, 30)
    return first


def mock(handler: Any) -> httpx.MockTransport:
    return httpx.MockTransport(handler)


def not_found(request: httpx.Request) -> httpx.Response:
    return httpx.Response(404)


def names_another_issuer(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, json={"issuer": ISSUER + "/", "jwks_uri": ISSUER + "/v1/keys"})


def unreachable(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("[Errno 111] Connection refused", request=request)


@pytest.mark.anyio
async def test_startup_fetches_metadata_and_keys_so_the_first_request_fetches_nothing() -> None:
    """After start-up the key cache is warm: one discovery, one JWKS, none for the first request."""
    issuer = LocalIssuer(ISSUER)
    verifier = TokenVerifier(ISSUER, "api://default", transport=issuer.transport())
    middleware = BearerAuthMiddleware(App(), verifier)
    assert (await start(middleware))["type"] == "lifespan.startup.complete"
    assert verifier.keys.fetch_counts == {"discovery": 1, "jwks": 1}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(middleware)) as client:
        token = issuer.mint()
        response = await client.get("http://api/", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    assert verifier.keys.fetch_counts == {"discovery": 1, "jwks": 1}
    await verifier.aclose()


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("handler", "logged"),
    [
        (not_found, "answered HTTP 404; hint: nothing is published there: check issuer="),
        (names_another_issuer, "hint: they differ only by a trailing slash"),
        (unreachable, "Connection refused; hint: the host cannot be reached from here"),
    ],
    ids=["404", "issuer_mismatch", "unreachable"],
)
async def test_an_issuer_problem_is_logged_at_error_and_the_app_starts_by_default(
    handler: Any, logged: str, caplog: pytest.LogCaptureFixture
) -> None:
    """By default a 404, a mismatch or an unreachable host is logged at ERROR; start-up goes on."""
    caplog.set_level(logging.INFO, logger="okta_bearer")
    app = App()
    verifier = TokenVerifier(ISSUER, "api://default", transport=mock(handler))
    first = await start(BearerAuthMiddleware(app, verifier))
    assert first["type"] == "lifespan.startup.complete"
    assert app.started
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    line = next(r.getMessage() for r in errors if "start-up check failed" in r.getMessage())
    assert f"issuer {ISSUER}:" in line
    assert logged in line
    assert "starting anyway" in line
    await verifier.aclose()


@pytest.mark.anyio
async def test_startup_check_exit_fails_the_startup_before_the_app_starts() -> None:
    """startup_check="exit" answers startup.failed with the problem; the app never starts."""
    app = App()
    verifier = TokenVerifier(ISSUER, "api://default", transport=mock(not_found))
    first = await start(BearerAuthMiddleware(app, verifier, startup_check="exit"))
    assert first["type"] == "lifespan.startup.failed"
    assert f"issuer {ISSUER}: " in first["message"]
    assert "HTTP 404" in first["message"]
    assert not app.started
    await verifier.aclose()


@pytest.mark.anyio
async def test_startup_check_off_fetches_nothing() -> None:
    """startup_check="off" leaves the fetch to the first request, as before."""
    issuer = LocalIssuer(ISSUER)
    verifier = TokenVerifier(ISSUER, "api://default", transport=issuer.transport())
    middleware = BearerAuthMiddleware(App(), verifier, startup_check="off")
    assert (await start(middleware))["type"] == "lifespan.startup.complete"
    assert verifier.keys.fetch_counts == {"discovery": 0, "jwks": 0}
    await verifier.aclose()


def test_startup_check_must_be_one_of_the_modes() -> None:
    """Any other startup_check value is a ConfigurationError naming the option."""
    with pytest.raises(ConfigurationError, match="startup_check"):
        BearerAuthMiddleware(App(), issuer=ISSUER, audience="a", startup_check="fail")  # type: ignore[arg-type]


@pytest.mark.anyio
async def test_the_check_is_bounded_by_the_key_policy_timeout() -> None:
    """An issuer that never answers delays start-up by KeyPolicy.timeout, not forever."""

    async def hang(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(3600)
        raise AssertionError("unreachable")

    verifier = TokenVerifier(
        ISSUER, "api://default", transport=mock(hang), keys=KeyPolicy(timeout=0.3)
    )
    began = time.monotonic()
    first = await start(BearerAuthMiddleware(App(), verifier, startup_check="exit"))
    assert time.monotonic() - began < 10
    assert first["type"] == "lifespan.startup.failed"
    assert "timed out after 0.3 s" in first["message"]
    await verifier.aclose()


@pytest.mark.anyio
async def test_multi_issuer_and_introspection_verifiers_are_warmed_each() -> None:
    """Every issuer of a MultiIssuerVerifier is warmed; introspection discovers its endpoint."""
    first_issuer, second_issuer = LocalIssuer(ISSUER), LocalIssuer(OTHER)
    a = TokenVerifier(ISSUER, "api://default", transport=first_issuer.transport())
    b = TokenVerifier(OTHER, "api://default", transport=second_issuer.transport())
    server = IntrospectionServer(LocalIssuer(ISSUER))
    opaque = server.verifier()
    assert isinstance(opaque, IntrospectionVerifier)
    endpoint_known = opaque.introspection_endpoint is not None
    shape = TokenShapeVerifier(MultiIssuerVerifier([a, b]), opaque)
    assert (await start(BearerAuthMiddleware(App(), shape)))["type"] == "lifespan.startup.complete"
    assert a.keys.fetch_counts == b.keys.fetch_counts == {"discovery": 1, "jwks": 1}
    assert endpoint_known or opaque.introspection_endpoint == server.introspection_endpoint
    await shape.aclose()


@pytest.mark.anyio
async def test_introspection_discovery_failure_is_reported() -> None:
    """An IntrospectionVerifier whose issuer publishes no metadata reports it at start-up."""
    verifier = IntrospectionVerifier(
        ISSUER, "api://default", client_id="rs", client_secret="s", transport=mock(not_found)
    )
    first = await start(BearerAuthMiddleware(App(), verifier, startup_check="exit"))
    assert first["type"] == "lifespan.startup.failed"
    assert "introspection endpoint discovery failed" in first["message"]
    assert "HTTP 404" in first["message"]
    await verifier.aclose()


@pytest.mark.anyio
async def test_one_failing_issuer_among_several_is_named() -> None:
    """With several issuers, the one that fails is named and the others still warm."""
    good = LocalIssuer(ISSUER)
    a = TokenVerifier(ISSUER, "api://default", transport=good.transport())
    b = TokenVerifier(OTHER, "api://default", transport=mock(unreachable))
    first = await start(
        BearerAuthMiddleware(App(), MultiIssuerVerifier([a, b]), startup_check="exit")
    )
    assert first["type"] == "lifespan.startup.failed"
    assert f"issuer {OTHER}:" in first["message"]
    assert ISSUER + ":" not in first["message"]
    assert a.keys.fetch_counts == {"discovery": 1, "jwks": 1}
    await a.aclose()
    await b.aclose()


@pytest.mark.anyio
async def test_a_verifier_without_warm_up_starts_unchanged() -> None:
    """A user's verifier with no warm_up() method is simply not warmed."""

    class Plain:
        async def verify(self, token: str, required_scopes: Any = ()) -> Any:
            raise AssertionError("not called")

        async def aclose(self) -> None:
            return None

    app = App()
    first = await start(BearerAuthMiddleware(app, Plain(), startup_check="exit"))
    assert first["type"] == "lifespan.startup.complete"
    assert app.started
