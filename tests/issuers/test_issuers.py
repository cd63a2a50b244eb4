"""MultiIssuerVerifier, TokenShapeVerifier and token profiles, with two LocalIssuers at once."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator

import pytest

from okta_bearer import (
    ConfigurationError,
    InsufficientScope,
    InvalidToken,
    MultiIssuerVerifier,
    TokenProfile,
    TokenShapeVerifier,
)
from okta_bearer._opaque.issuers import is_jwt_shaped, unverified_issuer
from okta_bearer._testing.opaque import IntrospectionServer
from okta_bearer.testing import OMIT, LocalIssuer

pytestmark = pytest.mark.anyio

A = "https://tenant-a.okta.example/oauth2/default"
B = "https://tenant-b.example/oauth2/aus1"


@pytest.fixture
def issuer_a() -> LocalIssuer:
    """An Okta custom authorization server (scp/cid tokens)."""
    return LocalIssuer(A, audience="api://a")


@pytest.fixture
def issuer_b() -> LocalIssuer:
    """A second issuer with its own audience and algorithm."""
    return LocalIssuer(B, audience="api://b", algorithm="ES256")


@pytest.fixture
async def multi(issuer_a: LocalIssuer, issuer_b: LocalIssuer) -> AsyncIterator[MultiIssuerVerifier]:
    """A verifier for both issuers, each with its own audience and algorithm."""
    async with MultiIssuerVerifier([issuer_a.verifier(), issuer_b.verifier()]) as verifier:
        yield verifier


def _unsigned(payload: object) -> str:
    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    return f"{b64(b'{}')}.{b64(json.dumps(payload).encode())}.{b64(b'sig')}"


async def test_each_issuer_is_verified_by_its_own_verifier(
    multi: MultiIssuerVerifier, issuer_a: LocalIssuer, issuer_b: LocalIssuer
) -> None:
    """Tokens from both issuers verify, each against its own keys and audience."""
    a = await multi.verify(issuer_a.mint())
    b = await multi.verify(issuer_b.mint())
    assert (a.issuer, a.audience) == (A, ("api://a",))
    assert (b.issuer, b.audience) == (B, ("api://b",))


async def test_token_with_the_other_issuers_audience_is_refused(
    multi: MultiIssuerVerifier, issuer_a: LocalIssuer
) -> None:
    """A token from A carrying B's audience is refused by A's verifier (bad_audience)."""
    with pytest.raises(InvalidToken) as caught:
        await multi.verify(issuer_a.mint(aud="api://b"))
    assert caught.value.reason == "bad_audience"


async def test_token_signed_by_one_issuer_claiming_the_other_is_refused(
    multi: MultiIssuerVerifier, issuer_a: LocalIssuer, issuer_b: LocalIssuer
) -> None:
    """A token signed with A's key but naming B as iss fails B's signature check."""
    forged = issuer_a.mint(iss=B, aud="api://b", header={"kid": issuer_b.kid, "alg": "RS256"})
    with pytest.raises(InvalidToken):
        await multi.verify(forged)


async def test_unknown_issuer_is_refused_without_any_request(
    multi: MultiIssuerVerifier, issuer_a: LocalIssuer, issuer_b: LocalIssuer
) -> None:
    """An iss that is not configured is 401 unknown_issuer, and no URL is fetched."""
    evil = LocalIssuer("https://evil.example/oauth2/default", audience="api://a")
    with pytest.raises(InvalidToken) as caught:
        await multi.verify(evil.mint())
    assert caught.value.status == 401
    assert caught.value.reason == "unknown_issuer"
    assert caught.value.context["got"] == "https://evil.example/oauth2/default"
    assert issuer_a.requests == issuer_b.requests == evil.requests == []


async def test_issuer_is_compared_exactly(
    multi: MultiIssuerVerifier, issuer_a: LocalIssuer
) -> None:
    """A trailing slash or different case is another issuer."""
    for iss in (A + "/", A.upper()):
        with pytest.raises(InvalidToken) as caught:
            await multi.verify(issuer_a.mint(iss=iss))
        assert caught.value.reason == "unknown_issuer"


@pytest.mark.parametrize(
    ("token", "reason"),
    [
        (_unsigned({"sub": "x"}), "missing_claim"),
        (_unsigned({"iss": 42}), "missing_claim"),
        (_unsigned(["iss", A]), "malformed"),
        ("eyJhbGciOiJSUzI1NiJ9.bm90IGpzb24.c2ln", "malformed"),
        ("opaque-token-without-dots", "malformed"),
    ],
)
async def test_token_without_a_usable_iss_is_refused(
    multi: MultiIssuerVerifier, token: str, reason: str
) -> None:
    """No iss, a non-string iss, a payload that is not an object, or an opaque token: 401."""
    with pytest.raises(InvalidToken) as caught:
        await multi.verify(token)
    assert caught.value.reason == reason


async def test_required_scopes_reach_the_chosen_verifier(
    multi: MultiIssuerVerifier, issuer_b: LocalIssuer
) -> None:
    """Scopes required by the route are checked (403) after routing."""
    with pytest.raises(InsufficientScope):
        await multi.verify(issuer_b.mint(scp=["items:read"]), ["items:write"])


async def test_rfc9068_profile_reads_scope_and_client_id_only(issuer_a: LocalIssuer) -> None:
    """With the RFC 9068 profile, scopes come from 'scope' and the client from 'client_id'."""
    async with MultiIssuerVerifier(
        [issuer_a.verifier()], profiles={A: TokenProfile.rfc9068()}
    ) as verifier:
        token = issuer_a.mint(scope="items:read", client_id="svc", scp=["admin"], cid="other")
        claims = await verifier.verify(token, ["items:read"])
        assert claims.scopes == frozenset({"items:read"})
        assert claims.client_id == "svc"
        with pytest.raises(InsufficientScope):
            await verifier.verify(token, ["admin"])


async def test_okta_profile_ignores_scope(issuer_a: LocalIssuer) -> None:
    """With the Okta profile, a 'scope' claim grants nothing."""
    async with MultiIssuerVerifier(
        [issuer_a.verifier()], profiles={A: TokenProfile.okta()}
    ) as verifier:
        claims = await verifier.verify(issuer_a.mint(scp=OMIT, scope="admin"))
    assert claims.scopes == frozenset()


async def test_mapping_profile(issuer_a: LocalIssuer) -> None:
    """A custom profile maps scopes, client and subject to any claims."""
    profile = TokenProfile(scope_claim="roles", client_id_claim="azp", subject_claim="oid")
    async with MultiIssuerVerifier([issuer_a.verifier()], profiles={A: profile}) as verifier:
        token = issuer_a.mint(roles=["reader", "writer"], azp="app-1", oid="u-1")
        claims = await verifier.verify(token, ["reader"])
    assert claims.scopes == frozenset({"reader", "writer"})
    assert (claims.client_id, claims.sub) == ("app-1", "u-1")
    assert claims.raw["sub"] == "alice@example.com"  # raw stays the token's own claims


async def test_opaque_tokens_go_to_the_opaque_verifier(
    issuer_a: LocalIssuer, issuer_b: LocalIssuer
) -> None:
    """A non-JWT token is introspected by the configured opaque verifier."""
    server = IntrospectionServer(issuer_b)
    async with MultiIssuerVerifier([issuer_a.verifier()], opaque=server.verifier()) as verifier:
        claims = await verifier.verify(server.mint_opaque())
        assert claims.issuer == B
        assert (await verifier.verify(issuer_a.mint())).issuer == A


async def test_an_issuer_can_be_introspected(issuer_a: LocalIssuer, issuer_b: LocalIssuer) -> None:
    """One issuer's JWTs are checked locally, the other's by introspection (an org server)."""
    server = IntrospectionServer(issuer_b)
    async with MultiIssuerVerifier([issuer_a.verifier(), server.verifier()]) as verifier:
        await verifier.verify(issuer_b.mint())
        assert server.count("/v1/introspect") == 1
        await verifier.verify(issuer_a.mint())
    assert server.count("/v1/introspect") == 1


async def test_a_token_shape_verifier_can_be_one_of_the_issuers(
    issuer_a: LocalIssuer, issuer_b: LocalIssuer
) -> None:
    """A TokenShapeVerifier serves its issuer: B's JWTs are introspected, A's checked locally."""
    server = IntrospectionServer(issuer_b)
    token = issuer_b.mint()
    server.revoke(token)
    async with issuer_b.verifier() as b_jwt, server.verifier() as b_opaque:
        b = TokenShapeVerifier(b_jwt, b_opaque, introspect_jwts=True)
        async with MultiIssuerVerifier([issuer_a.verifier(), b]) as verifier:
            assert verifier.verifier_for(B) is b
            with pytest.raises(InvalidToken) as caught:
                await verifier.verify(token)  # revoked: only introspection knows
            assert caught.value.reason == "inactive"
            assert (await verifier.verify(issuer_b.mint())).issuer == B
            assert (await verifier.verify(issuer_a.mint())).issuer == A
    assert server.count("/v1/introspect") == 2


@pytest.mark.parametrize(
    ("build", "named"),
    [
        (lambda a, b: MultiIssuerVerifier([]), "at least one"),
        (lambda a, b: MultiIssuerVerifier([a.verifier(), a.verifier()]), "two verifiers"),
        (
            lambda a, b: MultiIssuerVerifier([a.verifier()], profiles={B: TokenProfile.okta()}),
            "profiles",
        ),
        (lambda a, b: MultiIssuerVerifier([object()]), "Verifier"),  # type: ignore[list-item]
        (lambda a, b: TokenProfile(scope_claim=""), "scope_claim"),
    ],
)
def test_bad_configuration_is_refused(
    issuer_a: LocalIssuer, issuer_b: LocalIssuer, build: object, named: str
) -> None:
    """Configuration mistakes raise ConfigurationError naming the problem."""
    assert callable(build)
    with pytest.raises(ConfigurationError, match=named):
        build(issuer_a, issuer_b)


async def test_shape_router_sends_jwts_local_and_others_to_introspection(
    issuer_a: LocalIssuer,
) -> None:
    """JWTs are verified locally, opaque tokens introspected."""
    server = IntrospectionServer(issuer_a)
    async with issuer_a.verifier() as jwt_verifier, server.verifier() as opaque:
        router = TokenShapeVerifier(jwt_verifier, opaque)
        await router.verify(issuer_a.mint())
        assert server.count("/v1/introspect") == 0
        await router.verify(server.mint_opaque())
        assert server.count("/v1/introspect") == 1


async def test_shape_router_can_introspect_jwts_too(issuer_a: LocalIssuer) -> None:
    """With introspect_jwts, a revoked but unexpired JWT is refused."""
    server = IntrospectionServer(issuer_a)
    token = issuer_a.mint()
    server.revoke(token)
    async with issuer_a.verifier() as jwt_verifier, server.verifier() as opaque:
        assert await TokenShapeVerifier(jwt_verifier, opaque).verify(token)  # local: accepted
        router = TokenShapeVerifier(jwt_verifier, opaque, introspect_jwts=True)
        with pytest.raises(InvalidToken) as caught:
            await router.verify(token)
    assert caught.value.reason == "inactive"


@pytest.mark.parametrize(
    ("token", "shaped"),
    [
        ("a.b.c", True),
        ("eyJ0.eyJ0.c2ln-_", True),
        ("a.b", False),
        ("a.b.c.d.e", False),
        ("a..c", False),
        ("a.b+/.c", False),
        ("a.b.c=", False),
        ("\u00e9.b.c", False),
    ],
)
def test_jwt_shape(token: str, shaped: bool) -> None:
    """A JWT is three non-empty base64url segments; anything else is opaque."""
    assert is_jwt_shaped(token) is shaped


def test_unverified_issuer_reads_only_the_payload() -> None:
    """The unverified iss comes from the payload segment, whatever the signature."""
    assert unverified_issuer(_unsigned({"iss": A})) == A


async def test_malformed_mapped_scope_claim_is_401(issuer_a: LocalIssuer) -> None:
    """A profile's scope claim holding a non-string is 401 invalid_token, not a 403."""
    profile = TokenProfile(scope_claim="roles")
    async with MultiIssuerVerifier([issuer_a.verifier()], profiles={A: profile}) as verifier:
        with pytest.raises(InvalidToken) as caught:
            await verifier.verify(issuer_a.mint(roles=["reader", 7]))
    assert caught.value.reason == "bad_claim"
