"""MultiIssuerVerifier and TokenShapeVerifier on the sync side: routed to verify_sync.

Routed here to introspection verifiers (each has ``verify_sync``); a verifier
without a sync side is refused at the first sync use, naming it.
"""

from __future__ import annotations

from collections.abc import Iterable

import pytest

from okta_bearer import (
    Claims,
    ConfigurationError,
    InsufficientScope,
    InvalidToken,
    MultiIssuerVerifier,
    TokenProfile,
    TokenShapeVerifier,
)
from okta_bearer._testing.opaque import IntrospectionServer
from okta_bearer.testing import LocalIssuer

A = "https://tenant-a.okta.example/oauth2/default"
B = "https://tenant-b.example/oauth2/aus1"


@pytest.fixture
def server_a() -> IntrospectionServer:
    """Issuer A's introspection endpoint (it answers for A's JWTs and opaque tokens)."""
    return IntrospectionServer(LocalIssuer(A, audience="api://a"))


@pytest.fixture
def server_b() -> IntrospectionServer:
    """Issuer B's introspection endpoint."""
    return IntrospectionServer(LocalIssuer(B, audience="api://b", algorithm="ES256"))


class _AsyncOnly:
    """A Verifier with no sync side (no verify_sync, no close)."""

    issuer = "https://async-only.example"

    async def verify(self, token: str, required_scopes: Iterable[str] = ()) -> Claims:
        raise AssertionError("not routed here")

    async def aclose(self) -> None:
        return None


def test_each_issuers_jwt_goes_to_its_own_verify_sync(
    server_a: IntrospectionServer, server_b: IntrospectionServer
) -> None:
    """A's JWT is judged by A's verifier, B's by B's, each through verify_sync."""
    verifier = MultiIssuerVerifier([server_a.verifier(), server_b.verifier()])
    try:
        assert verifier.verify_sync(server_a.local.mint()).issuer == A
        assert verifier.verify_sync(server_b.local.mint()).issuer == B
    finally:
        verifier.close()
    assert (server_a.count("/v1/introspect"), server_b.count("/v1/introspect")) == (1, 1)


def test_unknown_issuer_and_opaque_tokens_on_the_sync_side(
    server_a: IntrospectionServer, server_b: IntrospectionServer
) -> None:
    """An unknown iss is 401 without a request; an opaque token goes to opaque's verify_sync."""
    stranger = LocalIssuer("https://stranger.example", audience="api://a")
    verifier = MultiIssuerVerifier([server_a.verifier()], opaque=server_b.verifier())
    with verifier:
        with pytest.raises(InvalidToken) as caught:
            verifier.verify_sync(stranger.mint())
        assert caught.value.reason == "unknown_issuer"
        assert server_a.requests == []
        assert verifier.verify_sync(server_b.mint_opaque()).issuer == B


def test_a_profile_and_required_scopes_apply_on_the_sync_side(
    server_a: IntrospectionServer,
) -> None:
    """The issuer's profile is applied to verify_sync's claims, then the scopes are checked."""
    verifier = MultiIssuerVerifier(
        [server_a.verifier()], profiles={A: TokenProfile.rfc9068()}, required_scopes=["a:read"]
    )
    with verifier:
        claims = verifier.verify_sync(server_a.local.mint(scp=["a:read"]))
        assert claims.scopes == frozenset({"a:read"})  # read from the answer's "scope"
        with pytest.raises(InsufficientScope):
            verifier.verify_sync(server_a.local.mint(scp=["other"]))


def test_a_verifier_without_a_sync_side_is_named_at_first_sync_use(
    server_a: IntrospectionServer,
) -> None:
    """Constructing with an async-only verifier works; routing a sync call to it names it."""
    verifier = MultiIssuerVerifier([server_a.verifier(), _AsyncOnly()])
    with verifier:
        assert verifier.verify_sync(server_a.local.mint()).issuer == A
        token = LocalIssuer(_AsyncOnly.issuer, audience="api://a").mint()
        with pytest.raises(ConfigurationError, match=r"^verifiers: _AsyncOnly \(https://async"):
            verifier.verify_sync(token)


def test_shape_router_sends_each_shape_to_its_verify_sync(
    server_a: IntrospectionServer, server_b: IntrospectionServer
) -> None:
    """JWTs go to jwt's verify_sync, other tokens to opaque's; an async-only side is named."""
    with TokenShapeVerifier(server_a.verifier(), server_b.verifier()) as router:
        assert router.verify_sync(server_a.local.mint()).issuer == A
        assert router.verify_sync(server_b.mint_opaque(), ["items:read"]).issuer == B
    router = TokenShapeVerifier(_AsyncOnly(), server_b.verifier())
    with router:
        assert router.verify_sync(server_b.mint_opaque()).issuer == B
        with pytest.raises(ConfigurationError, match=r"^jwt: _AsyncOnly"):
            router.verify_sync(server_a.local.mint())


def test_close_and_warm_up_sync_reach_every_verifier(
    server_a: IntrospectionServer, server_b: IntrospectionServer
) -> None:
    """warm_up_sync discovers for each verifier; close closes each one's sync client."""
    one, two = server_a.verifier(), server_b.verifier()
    verifier = MultiIssuerVerifier([one, _AsyncOnly()], opaque=two)
    assert verifier.warm_up_sync() == []
    assert one.introspection_endpoint == server_a.introspection_endpoint
    assert two.introspection_endpoint == server_b.introspection_endpoint
    clients = [one._sync_client, two._sync_client]
    verifier.close()
    assert all(client is not None and client.is_closed for client in clients)


def test_jwts_verified_locally_and_introspected_side_by_side_on_the_sync_side(
    server_a: IntrospectionServer, server_b: IntrospectionServer
) -> None:
    """A's JWTs go to A's TokenVerifier.verify_sync (no introspection), B's to introspection."""
    with MultiIssuerVerifier([server_a.local.verifier(), server_b.verifier()]) as verifier:
        assert verifier.verify_sync(server_a.local.mint(scp=["a:read"]), ["a:read"]).issuer == A
        with pytest.raises(InvalidToken):
            verifier.verify_sync(server_a.local.mint(aud="api://b"))  # A's verifier, A's audience
        assert verifier.verify_sync(server_b.local.mint()).issuer == B
    assert (server_a.count("/v1/introspect"), server_b.count("/v1/introspect")) == (0, 1)


def test_shape_router_checks_jwts_locally_on_the_sync_side(
    server_a: IntrospectionServer,
) -> None:
    """TokenShapeVerifier: a JWT through TokenVerifier.verify_sync, an opaque token introspected."""
    token = server_a.local.mint()
    server_a.revoke(token)
    with TokenShapeVerifier(server_a.local.verifier(), server_a.verifier()) as router:
        assert router.verify_sync(token).issuer == A  # checked locally: revocation unseen
        assert server_a.count("/v1/introspect") == 0
        assert router.verify_sync(server_a.mint_opaque()).issuer == A
    with (
        TokenShapeVerifier(
            server_a.local.verifier(), server_a.verifier(), introspect_jwts=True
        ) as router,
        pytest.raises(InvalidToken) as caught,
    ):
        router.verify_sync(token)
    assert caught.value.reason == "inactive"
