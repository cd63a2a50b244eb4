"""Hostile or broken introspection answers: 503 with Retry-After, never 401, never cached."""

from __future__ import annotations

import contextlib
import json
import logging
from urllib.parse import parse_qsl

import httpx
import pytest

from okta_bearer import InsufficientScope, IntrospectionUnavailable, InvalidToken
from okta_bearer._store.memory import MemoryStore
from okta_bearer._testing.opaque import IntrospectionServer

from ..helpers import Clock
from .conftest import Delayed, Driver, introspections_take

pytestmark = pytest.mark.anyio

HUGE = b'{"active": true, "pad": "' + b"x" * (300 * 1024) + b'"}'


@pytest.mark.parametrize(
    "answer",
    [
        pytest.param(httpx.Response(200, content=b"<html>oops</html>"), id="not-json"),
        pytest.param(httpx.Response(200, json=["active", True]), id="not-an-object"),
        pytest.param(httpx.Response(200, json={"active": "true"}), id="active-a-string"),
        pytest.param(httpx.Response(200, json={"active": 1}), id="active-a-number"),
        pytest.param(httpx.Response(200, json={"scope": "items:read"}), id="no-active"),
        pytest.param(httpx.Response(500, json={"active": True}), id="http-500"),
        pytest.param(httpx.Response(302, headers={"location": "/elsewhere"}), id="redirect"),
        pytest.param(httpx.Response(200, content=HUGE), id="huge"),
        pytest.param(
            httpx.Response(200, content=HUGE, headers={"content-length": str(len(HUGE))}),
            id="huge-declared",
        ),
    ],
)
async def test_malformed_answer_is_503(
    server: IntrospectionServer, answer: httpx.Response, driver: Driver
) -> None:
    """An answer that is not a JSON object with a boolean active is 503, never active."""
    server.answer_override = answer
    async with server.verifier() as verifier:
        with pytest.raises(IntrospectionUnavailable) as caught:
            await driver.verify(verifier, server.mint_opaque())
    assert caught.value.status == 503
    assert caught.value.retry_after >= 1


async def test_slow_answer_times_out_as_503(server: IntrospectionServer, driver: Driver) -> None:
    """An endpoint slower than the timeout is 503."""

    transport = Delayed(server.handler, introspections_take(30))
    async with server.verifier(transport=transport, timeout=0.05) as verifier:
        with pytest.raises(IntrospectionUnavailable):
            await driver.verify(verifier, server.mint_opaque())


async def test_network_failure_is_503(server: IntrospectionServer, driver: Driver) -> None:
    """A connection error reaching the endpoint is 503."""

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    async with server.verifier(transport=httpx.MockTransport(refuse)) as verifier:
        with pytest.raises(IntrospectionUnavailable):
            await driver.verify(verifier, server.mint_opaque())


async def test_failure_fails_fast_then_recovers(
    server: IntrospectionServer, clock: Clock, driver: Driver
) -> None:
    """After a failure lookups fail fast for retry_after seconds, then the endpoint is asked."""
    server.answer_override = httpx.Response(503)
    token = server.mint_opaque()
    async with server.verifier(retry_after=5) as verifier:
        with pytest.raises(IntrospectionUnavailable):
            await driver.verify(verifier, token)
        with pytest.raises(IntrospectionUnavailable) as fast:
            await driver.verify(verifier, server.mint_opaque())
        assert server.count("/v1/introspect") == 1
        assert fast.value.retry_after == 5
        server.answer_override = None
        clock.advance(6)
        claims = await driver.verify(verifier, token)  # the failure was not cached
    assert claims.client_id == server.local.client_id


async def test_token_never_in_logs_or_errors(
    server: IntrospectionServer, caplog: pytest.LogCaptureFixture, driver: Driver
) -> None:
    """Failures log the endpoint and the cause, never the token."""
    caplog.set_level(logging.DEBUG, logger="okta_bearer")
    token = server.mint_opaque()
    server.answer_override = httpx.Response(401, json={"error": "invalid_client"})
    async with server.verifier() as verifier:
        with pytest.raises(IntrospectionUnavailable) as unavailable:
            await driver.verify(verifier, token)
    server.answer_override = None
    async with server.verifier() as verifier:
        with pytest.raises(InvalidToken) as inactive:
            await driver.verify(verifier, token + "x")
    assert "refused our client credentials" in caplog.text
    for text in (caplog.text, str(unavailable.value), str(inactive.value)):
        assert token not in text


_HOSTILE_VALUES = {
    "huge-int": "1" + "0" * 400,
    "huge-negative": "-" + "9" * 400,
    "float-overflow": "1e400",
    "negative-float-overflow": "-1e400",
    "true": "true",
    "false": "false",
    "null": "null",
    "string": '"tomorrow"',
    "long-string": '"' + "x" * 5000 + '"',
    "list": "[1, 2]",
    "object": '{"a": 1}',
    "float": "1.5",
    "negative": "-1",
    "nested-list": "[" * 500 + "]" * 500,
    "nested-object": '{"a": ' * 300 + "1" + "}" * 300,
    "nan": "NaN",
    "infinity": "Infinity",
}
# "active" last: a malformed answer must not hide the members after it.
_MEMBERS: tuple[str, ...] = (
    "exp",
    "iat",
    "nbf",
    "iss",
    "aud",
    "scope",
    "scp",
    "client_id",
    "cid",
    "sub",
)
_MEMBERS += ("username", "token_type", "cnf", "jti", "uid", "active")


@pytest.mark.parametrize("raw", list(_HOSTILE_VALUES.values()), ids=list(_HOSTILE_VALUES))
async def test_hostile_answers_are_401_or_503_never_an_exception(
    server: IntrospectionServer, clock: Clock, raw: str, driver: Driver
) -> None:
    """Each member of an answer set to a hostile value: claims, 401 or 503, in every worker."""
    bodies: dict[str, bytes] = {}

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/v1/introspect"):
            token = dict(parse_qsl(request.content.decode()))["token"]
            return httpx.Response(200, content=bodies[token])
        return server.handler(request)

    store = MemoryStore(clock=clock)
    transport = httpx.MockTransport(handler)
    async with (
        server.verifier(store=store, transport=transport) as one,
        server.verifier(store=store, transport=transport) as two,
    ):
        for member in _MEMBERS:
            token = server.mint_opaque()
            answer = json.dumps({**server.registry.answer(token), member: "__HOSTILE__"})
            bodies[token] = answer.replace('"__HOSTILE__"', raw).encode()
            for verifier in (one, two, one):  # the issuer's answer, then the shared copy
                with contextlib.suppress(InvalidToken, IntrospectionUnavailable, InsufficientScope):
                    await driver.verify(verifier, token, ["items:read"])


async def test_an_answer_nested_a_thousand_deep_is_503(
    server: IntrospectionServer, driver: Driver
) -> None:
    """An answer nested deeper than the parser allows is the issuer's problem: 503."""
    server.answer_override = httpx.Response(
        200, content=b'{"active": true, "x": ' + b"[" * 1000 + b"]" * 1000 + b"}"
    )
    async with server.verifier() as verifier:
        with pytest.raises(IntrospectionUnavailable):
            await driver.verify(verifier, server.mint_opaque())


async def test_metadata_naming_another_issuer_never_sends_it_the_token(
    server: IntrospectionServer, driver: Driver
) -> None:
    """A foreign introspection endpoint that would answer active never gets the token or secret."""
    token = server.mint_opaque()
    sent_elsewhere: list[httpx.Request] = []

    def lying(request: httpx.Request) -> httpx.Response:
        if request.url.host == "evil.example":
            sent_elsewhere.append(request)
            return httpx.Response(200, json=server.registry.answer(token))  # "active": true
        if "/.well-known/" in request.url.path:
            meta = {
                "issuer": "https://evil.example",
                "introspection_endpoint": "https://evil.example/v1/introspect",
            }
            return httpx.Response(200, json=meta)
        return server.handler(request)

    async with server.verifier(transport=httpx.MockTransport(lying)) as verifier:
        with pytest.raises(IntrospectionUnavailable):
            await driver.verify(verifier, token)
    assert sent_elsewhere == []
    assert server.count("/v1/introspect") == 0
