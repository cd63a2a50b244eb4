"""Log fields: refusals, key and introspection failures name the issuer, never the token."""

from __future__ import annotations

import logging

import httpx
import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from okta_bearer import BearerAuthMiddleware, BearerError, InsufficientScope, KeysUnavailable
from okta_bearer._log_fields import unverified_fields
from okta_bearer._testing.opaque import IntrospectionServer
from okta_bearer.testing import LocalIssuer

from .helpers import bearer

pytestmark = pytest.mark.anyio


async def admin(request: Request) -> PlainTextResponse:
    """Refuses every verified token, as require_scopes would."""
    raise InsufficientScope(["admin"])


async def refusal(
    local: LocalIssuer, token: str, caplog: pytest.LogCaptureFixture
) -> logging.LogRecord:
    """The one refusal record logged for a request with ``token`` to a route that refuses."""
    app = Starlette(
        routes=[Route("/admin", admin)],
        middleware=[Middleware(BearerAuthMiddleware, verifier=local.verifier())],
    )
    caplog.set_level(logging.INFO, logger="okta_bearer")
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
        await client.get("/admin", headers=bearer(token))
    [record] = [r for r in caplog.records if "refused" in r.getMessage()]
    return record


async def test_refusal_log_names_issuer_client_and_kid_of_the_refused_token(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A refused JWT's iss, cid and kid (unverified) are in the record; the token is not."""
    local = LocalIssuer()
    token = local.mint(aud="api://other", cid="0oaclient")
    record = await refusal(local, token, caplog)
    assert record.__dict__["reason"] == "bad_audience"
    assert record.__dict__["issuer"] == local.issuer
    assert record.__dict__["client_id"] == "0oaclient"
    assert record.__dict__["kid"] == local.kid
    assert token not in str(record.__dict__)
    assert token.split(".")[2] not in str(record.__dict__)


async def test_route_refusal_log_names_the_verified_issuer_and_client(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A refusal raised by the route carries the verified claims' issuer and client id."""
    local = LocalIssuer()
    record = await refusal(local, local.mint(cid="0oaverified"), caplog)
    assert record.__dict__["reason"] == "missing_scope"
    assert (record.__dict__["issuer"], record.__dict__["client_id"]) == (
        local.issuer,
        "0oaverified",
    )


@pytest.mark.parametrize(
    "token",
    ["opaque-token", "a.b.c", "x" * 20_000, "e30.e30.sig"],
    ids=["opaque", "not-base64-json", "huge", "empty-objects"],
)
def test_unverified_fields_of_tokens_without_them_are_empty(token: str) -> None:
    """Tokens that are not JWTs, or JWTs without iss/cid/kid, give no fields (and never raise)."""
    assert unverified_fields(token) == {}


def test_unverified_fields_are_cut_to_200_characters() -> None:
    """An attacker-chosen iss is cut to 200 characters in the log fields."""
    local = LocalIssuer()
    assert len(unverified_fields(local.mint(iss="https://x/" + "a" * 1000))["issuer"]) == 200


async def test_key_refresh_failure_log_carries_the_issuer(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A failed key refresh is logged with reason keys_refresh_failed and the issuer."""
    local = LocalIssuer()
    verifier = local.verifier(transport=httpx.MockTransport(lambda _: httpx.Response(500)))
    caplog.set_level(logging.WARNING, logger="okta_bearer")
    async with verifier:
        with pytest.raises(KeysUnavailable):
            await verifier.verify(local.mint())
    [record] = [r for r in caplog.records if r.__dict__.get("reason") == "keys_refresh_failed"]
    assert record.__dict__["issuer"] == local.issuer


async def test_introspection_failure_log_carries_the_issuer(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A failed introspection is logged with reason introspection_unavailable and the issuer."""
    server = IntrospectionServer(LocalIssuer())
    server.answer_override = httpx.Response(500)
    caplog.set_level(logging.WARNING, logger="okta_bearer")
    async with server.verifier() as verifier:
        with pytest.raises(BearerError):
            await verifier.verify(server.mint_opaque())
    [record] = [
        r for r in caplog.records if r.__dict__.get("reason") == "introspection_unavailable"
    ]
    assert record.__dict__["issuer"] == server.local.issuer
