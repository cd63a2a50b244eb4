"""IntrospectionVerifier against the testing kit's introspection endpoint (RFC 7662)."""

from __future__ import annotations

import base64
from urllib.parse import parse_qsl

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from okta_bearer import (
    ConfigurationError,
    InsufficientScope,
    IntrospectionUnavailable,
    InvalidToken,
)
from okta_bearer._testing.opaque import IntrospectionServer
from okta_bearer.testing import OMIT, LocalIssuer

from ..helpers import Clock

pytestmark = pytest.mark.anyio


def _form(request: httpx.Request) -> dict[str, str]:
    return dict(parse_qsl(request.content.decode()))


def _introspections(server: IntrospectionServer) -> list[httpx.Request]:
    return [r for r in server.requests if r.url.path.endswith("/v1/introspect")]


async def test_active_opaque_token_becomes_claims(server: IntrospectionServer) -> None:
    """An active answer becomes Claims: scope string, client_id, sub, username kept in raw."""
    token = server.mint_opaque(scp=["items:read", "items:write"], sub="alice@example.com")
    async with server.verifier() as verifier:
        claims = await verifier.verify(token, ["items:read"])
    assert claims.scopes == frozenset({"items:read", "items:write"})
    assert claims.client_id == server.local.client_id
    assert claims.sub == "alice@example.com"
    assert claims.issuer == server.local.issuer
    assert claims.audience == (server.local.audience,)
    assert claims.raw["username"] == "alice@example.com"
    assert claims.raw["token_type"] == "Bearer"
    assert "active" not in claims.raw


async def test_request_carries_token_hint_and_basic_auth(server: IntrospectionServer) -> None:
    """The request posts token and token_type_hint=access_token with url-encoded Basic auth."""
    token = server.mint_opaque()
    async with server.verifier() as verifier:
        await verifier.verify(token)
    (request,) = _introspections(server)
    assert request.method == "POST"
    assert _form(request) == {"token": token, "token_type_hint": "access_token"}
    expected = base64.b64encode(b"0oaresourceserver:resource-server-secret").decode()
    assert request.headers["authorization"] == f"Basic {expected}"
    assert request.headers["accept"] == "application/json"


async def test_client_secret_post_sends_credentials_in_the_form(
    server: IntrospectionServer,
) -> None:
    """client_secret_post puts client_id and client_secret in the body, no Authorization."""
    async with server.verifier(auth_method="client_secret_post") as verifier:
        await verifier.verify(server.mint_opaque())
    (request,) = _introspections(server)
    assert "authorization" not in request.headers
    form = _form(request)
    assert form["client_id"] == "0oaresourceserver"
    assert form["client_secret"] == "resource-server-secret"


@pytest.mark.parametrize("algorithm", ["RS256", "ES256"])
async def test_private_key_jwt_assertion_is_accepted(local: LocalIssuer, algorithm: str) -> None:
    """private_key_jwt sends an RFC 7523 assertion (aud the endpoint, fresh jti) that verifies."""
    key = (
        rsa.generate_private_key(public_exponent=65537, key_size=2048)
        if algorithm == "RS256"
        else ec.generate_private_key(ec.SECP256R1())
    )
    server = IntrospectionServer(local, client_public_key=key.public_key())
    token = server.mint_opaque()
    async with server.verifier(
        private_key=key, private_key_id="rs-key-1", private_key_algorithm=algorithm
    ) as verifier:
        assert (await verifier.verify(token)).client_id == local.client_id
        await verifier.verify(server.mint_opaque())
    first, second = (_form(r) for r in _introspections(server))
    assert (
        first["client_assertion_type"] == "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
    )
    header = jwt.get_unverified_header(first["client_assertion"])
    assert header["kid"] == "rs-key-1"
    assert header["alg"] == algorithm
    claims = jwt.decode(first["client_assertion"], options={"verify_signature": False})
    assert claims["aud"] == server.introspection_endpoint
    assert claims["iss"] == claims["sub"] == "0oaresourceserver"
    later = jwt.decode(second["client_assertion"], options={"verify_signature": False})
    assert later["jti"] != claims["jti"]


async def test_wrong_secret_is_503_not_401(server: IntrospectionServer) -> None:
    """The endpoint refusing our credentials is the server's problem: 503, never 401."""
    async with server.verifier(client_secret="wrong") as verifier:
        with pytest.raises(IntrospectionUnavailable) as caught:
            await verifier.verify(server.mint_opaque())
    assert caught.value.status == 503
    assert caught.value.reason == "introspection_unavailable"


async def test_unknown_token_is_inactive_401(server: IntrospectionServer) -> None:
    """{"active": false} is 401 invalid_token with reason inactive."""
    async with server.verifier() as verifier:
        with pytest.raises(InvalidToken) as caught:
            await verifier.verify("not-a-token-the-issuer-knows")
    assert caught.value.status == 401
    assert caught.value.reason == "inactive"


async def test_inactive_answer_is_cached_briefly(server: IntrospectionServer, clock: Clock) -> None:
    """active:false is remembered for inactive_ttl, then asked again."""
    async with server.verifier(inactive_ttl=5) as verifier:
        for _ in range(3):
            with pytest.raises(InvalidToken):
                await verifier.verify("unknown-token")
        assert len(_introspections(server)) == 1
        clock.advance(6)
        with pytest.raises(InvalidToken):
            await verifier.verify("unknown-token")
    assert len(_introspections(server)) == 2


async def test_active_answer_is_cached_for_cache_ttl(
    server: IntrospectionServer, clock: Clock
) -> None:
    """Repeated verification within cache_ttl makes one introspection request."""
    token = server.mint_opaque()
    async with server.verifier(cache_ttl=60) as verifier:
        for _ in range(5):
            await verifier.verify(token)
        assert len(_introspections(server)) == 1
        clock.advance(61)
        await verifier.verify(token)
    assert len(_introspections(server)) == 2


async def test_revocation_is_seen_within_cache_ttl(
    server: IntrospectionServer, clock: Clock
) -> None:
    """A revoked token is accepted from cache until cache_ttl, then refused."""
    token = server.mint_opaque()
    async with server.verifier(cache_ttl=30) as verifier:
        await verifier.verify(token)
        server.revoke(token)
        await verifier.verify(token)  # still cached: the documented trade-off
        clock.advance(31)
        with pytest.raises(InvalidToken) as caught:
            await verifier.verify(token)
    assert caught.value.reason == "inactive"


async def test_missing_scope_is_403(server: IntrospectionServer) -> None:
    """A valid token without the route's scope is InsufficientScope (403)."""
    async with server.verifier(required_scopes=["items:read"]) as verifier:
        with pytest.raises(InsufficientScope):
            await verifier.verify(server.mint_opaque(scp=["items:read"]), ["items:write"])


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"iss": "https://attacker.example/oauth2/default"}, "bad_issuer"),
        ({"aud": "api://someone-else"}, "bad_audience"),
        ({"exp": OMIT}, "missing_claim"),
        ({"exp": "tomorrow"}, "bad_claim"),
        ({"iat": 1_900_000_000}, "issued_in_future"),
    ],
)
async def test_active_answer_is_still_judged(
    server: IntrospectionServer, overrides: dict[str, object], reason: str
) -> None:
    """An active answer naming another issuer or audience, or lacking exp, is 401."""
    async with server.verifier() as verifier:
        with pytest.raises(InvalidToken) as caught:
            await verifier.verify(server.mint_opaque(**overrides))
    assert caught.value.status == 401
    assert caught.value.reason == reason


async def test_answer_without_iss_speaks_for_the_configured_issuer(
    server: IntrospectionServer,
) -> None:
    """RFC 7662 makes iss optional: an answer without it belongs to the configured issuer."""
    async with server.verifier() as verifier:
        claims = await verifier.verify(server.mint_opaque(iss=OMIT))
    assert claims.issuer == server.local.issuer


async def test_refresh_token_type_is_refused(server: IntrospectionServer) -> None:
    """An active answer whose token_type is not Bearer or DPoP is not an access token."""
    server.answer_override = httpx.Response(
        200,
        json={
            **server.registry.answer(token := server.mint_opaque()),
            "token_type": "refresh_token",
        },
    )
    async with server.verifier() as verifier:
        with pytest.raises(InvalidToken) as caught:
            await verifier.verify(token)
    assert caught.value.reason == "bad_token_type"


async def test_cnf_is_kept_for_dpop(server: IntrospectionServer) -> None:
    """The answer's cnf (DPoP key binding) is available in claims.raw."""
    token = server.mint_opaque(cnf={"jkt": "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"})
    async with server.verifier() as verifier:
        claims = await verifier.verify(token)
    assert claims.raw["cnf"]["jkt"] == "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"


async def test_jwt_can_be_introspected_and_revoked(
    server: IntrospectionServer, clock: Clock
) -> None:
    """A JWT sent to introspection is judged by the issuer, so its revocation shows."""
    token = server.local.mint()
    async with server.verifier(cache_ttl=0.001) as verifier:
        assert (await verifier.verify(token)).jti
        server.revoke(token)
        clock.advance(1)
        with pytest.raises(InvalidToken):
            await verifier.verify(token)


async def test_endpoint_is_discovered_once(server: IntrospectionServer) -> None:
    """The endpoint comes from the issuer's metadata, fetched once."""
    async with server.verifier() as verifier:
        assert verifier.introspection_endpoint is None
        await verifier.verify(server.mint_opaque())
        await verifier.verify(server.mint_opaque())
        assert verifier.introspection_endpoint == server.introspection_endpoint
        assert verifier.fetch_counts == {"discovery": 1, "introspection": 2}


async def test_configured_endpoint_skips_discovery(server: IntrospectionServer) -> None:
    """With introspection_endpoint configured no metadata is fetched."""
    endpoint = server.introspection_endpoint
    async with server.verifier(introspection_endpoint=endpoint) as verifier:
        await verifier.verify(server.mint_opaque())
    assert server.count("openid-configuration") + server.count("oauth-authorization-server") == 0


async def test_oversized_or_odd_token_is_refused_without_a_request(
    server: IntrospectionServer,
) -> None:
    """A token over max_token_size, empty or not ASCII is 401 with no request made."""
    async with server.verifier() as verifier:
        for token in ("x" * 20_000, "", "caf\u00e9"):
            with pytest.raises(InvalidToken) as caught:
                await verifier.verify(token)
            assert caught.value.status == 401
    assert server.requests == []


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"client_secret": None}, "client_secret"),
        ({"auth_method": "client_secret_jwt"}, "auth_method"),
        ({"auth_method": "private_key_jwt"}, "private_key"),
        ({"private_key": "not a pem"}, "private_key"),
        ({"introspection_endpoint": "http://idp.example.com/introspect"}, "introspection_endpoint"),
        ({"audience": []}, "audience"),
        ({"cache_ttl": -1}, "cache_ttl"),
        ({"store": object()}, "store"),
        ({"transport": object()}, "transport"),
        ({"required_scopes": ["bad scope"]}, "required_scopes"),
    ],
)
def test_bad_configuration_names_the_option(
    server: IntrospectionServer, options: dict[str, object], named: str
) -> None:
    """A configuration mistake is a ConfigurationError naming the option."""
    with pytest.raises(ConfigurationError, match=named):
        server.verifier(**options)


def test_private_key_must_fit_the_algorithm(server: IntrospectionServer) -> None:
    """An EC key with RS256 is refused at construction."""
    key = ec.generate_private_key(ec.SECP256R1())
    with pytest.raises(ConfigurationError, match="private_key_algorithm"):
        server.verifier(private_key=key, private_key_algorithm="RS256")
