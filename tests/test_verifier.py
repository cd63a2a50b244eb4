"""TokenVerifier: configuration errors, signature checks and the verified-token cache."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from okta_bearer import (
    ConfigurationError,
    InsufficientScope,
    InvalidToken,
    KeyPolicy,
    KeysUnavailable,
    TokenVerifier,
)
from okta_bearer._keys.keystore import KeyStore
from okta_bearer.testing import LocalIssuer, SigningKey

from .helpers import Clock

pytestmark = pytest.mark.anyio
ISS = "https://example.okta.com/oauth2/default"


@pytest.mark.parametrize(
    ("kwargs", "option"),
    [
        ({"issuer": "http://example.okta.com/oauth2/default"}, "issuer"),
        ({"issuer": "example.okta.com"}, "issuer"),
        ({"issuer": ""}, "issuer"),
        ({"issuer": "https://user:pw@example.okta.com/oauth2/default"}, "issuer"),
        ({"issuer": ISS + "?x=1"}, "issuer"),
        ({"issuer": ISS + "#frag"}, "issuer"),
        ({"issuer": "https://{yourOktaDomain}/oauth2/default"}, "issuer"),
        ({"issuer": "https://dev-1-admin.okta.com/oauth2/default"}, "issuer"),
        ({"jwks_uri": "http://example.okta.com/keys"}, "jwks_uri"),
        ({"audience": ""}, "audience"),
        ({"audience": []}, "audience"),
        ({"audience": ["ok", ""]}, "audience"),
        ({"algorithms": ["none"]}, "algorithms"),
        ({"algorithms": ["HS256"]}, "algorithms"),
        ({"algorithms": ["RS256", "hs512"]}, "algorithms"),
        ({"algorithms": ["XYZ"]}, "algorithms"),
        ({"algorithms": []}, "algorithms"),
        ({"leeway": -1}, "leeway"),
        ({"leeway": float("nan")}, "leeway"),
        ({"leeway": 3600}, "leeway"),
        ({"max_token_age": 0}, "max_token_age"),
        ({"client_ids": []}, "client_ids"),
        ({"required_scopes": ['a"b']}, "required_scopes"),
        ({"transport": object()}, "transport"),
        ({"keys": {"timeout": 1}}, "keys"),
        ({"require_at_jwt": "yes"}, "require_at_jwt"),
        ({"max_token_size": 10}, "max_token_size"),
        ({"token_cache_size": -1}, "token_cache_size"),
        ({"issuer": "http://127.attacker.example/oauth2/default"}, "issuer"),
        ({"issuer": "http://localhost.attacker.example/oauth2/default"}, "issuer"),
        ({"jwks_uri": "http://127.0.0.1.nip.io/keys"}, "jwks_uri"),
        ({"issuer": "https://[::1/oauth2/default"}, "issuer"),
    ],
)
def test_bad_configuration_fails_at_construction(kwargs: dict[str, Any], option: str) -> None:
    """Configuration mistakes raise ConfigurationError naming the option."""
    options: dict[str, Any] = {"issuer": ISS, "audience": "api://default", **kwargs}
    with pytest.raises(ConfigurationError, match=option):
        TokenVerifier(**options)


@pytest.mark.parametrize(
    ("kwargs", "option"),
    [
        ({"timeout": 0}, "KeyPolicy.timeout"),
        ({"min_ttl": 600, "max_ttl": 60}, "KeyPolicy.max_ttl"),
        ({"default_ttl": 10}, "KeyPolicy.default_ttl"),
        ({"max_stale": -1}, "KeyPolicy.max_stale"),
        ({"unknown_kid_interval": float("inf")}, "KeyPolicy.unknown_kid_interval"),
    ],
)
def test_bad_key_policy_fails_at_construction(kwargs: dict[str, Any], option: str) -> None:
    """A KeyPolicy out of range raises ConfigurationError naming the field."""
    with pytest.raises(ConfigurationError, match=option):
        KeyPolicy(**kwargs)


@pytest.mark.parametrize(
    "issuer",
    [
        "http://127.0.0.1:8080/oauth2/default",
        "http://127.3.4.5/oauth2/default",
        "http://localhost/oauth2/default",
        "http://[::1]:9400/oauth2/default",
    ],
)
def test_plain_http_allowed_on_loopback(issuer: str) -> None:
    """A loopback http:// issuer is accepted for local development."""
    TokenVerifier(issuer, "api://default")


async def test_valid_token(okta_issuer: LocalIssuer) -> None:
    """A token signed by the issuer's key verifies and yields its claims."""
    async with okta_issuer.verifier() as verifier:
        claims = await verifier.verify(okta_issuer.mint(), required_scopes=["items:read"])
    assert claims.sub == "alice@example.com"
    assert claims.client_id == okta_issuer.client_id


async def test_tampered_payload_fails_signature(okta_issuer: LocalIssuer) -> None:
    """Changing the payload after signing breaks the signature."""
    header, _, signature = okta_issuer.mint().split(".")
    forged_payload = okta_issuer.mint(sub="mallory@example.com").split(".")[1]
    async with okta_issuer.verifier() as verifier:
        with pytest.raises(InvalidToken, match="bad_signature"):
            await verifier.verify(f"{header}.{forged_payload}.{signature}")


async def test_foreign_key_with_known_kid_fails(okta_issuer: LocalIssuer) -> None:
    """A token signed by another key but naming a published kid is rejected."""
    rogue = SigningKey.generate("RS256", kid=okta_issuer.kid)
    async with okta_issuer.verifier() as verifier:
        with pytest.raises(InvalidToken, match="bad_signature"):
            await verifier.verify(okta_issuer.mint(key=rogue))


async def test_es256_issuer() -> None:
    """An ES256 issuer works when ES256 is allowed, and is refused when only RS256 is."""
    issuer = LocalIssuer(algorithm="ES256")
    async with issuer.verifier() as verifier:
        await verifier.verify(issuer.mint())
    async with issuer.verifier(algorithms=["RS256"]) as verifier:
        with pytest.raises(InvalidToken, match="bad_alg"):
            await verifier.verify(issuer.mint())


async def test_algorithm_must_fit_the_key(okta_issuer: LocalIssuer) -> None:
    """A JWK pinned to RS256 is not used for an RS512 token, even if RS512 is allowed."""
    token = okta_issuer.mint(header={"alg": "RS512"})
    async with okta_issuer.verifier(algorithms=["RS256", "RS512"]) as verifier:
        with pytest.raises(InvalidToken, match="key_mismatch"):
            await verifier.verify(token)


async def test_required_and_route_scopes(okta_issuer: LocalIssuer) -> None:
    """Verifier-wide and per-call scopes are both required; a valid token lacking one gets 403."""
    token = okta_issuer.mint(scp=["a", "b"])
    async with okta_issuer.verifier(required_scopes=["a"]) as verifier:
        await verifier.verify(token, required_scopes=["b"])
        with pytest.raises(InsufficientScope) as info:
            await verifier.verify(token, required_scopes=["c"])
        assert info.value.required == ("a", "c")


async def test_client_ids_allow_list(okta_issuer: LocalIssuer) -> None:
    """Only listed clients are accepted when client_ids is set."""
    async with okta_issuer.verifier(client_ids=["0oa-other"]) as verifier:
        with pytest.raises(InvalidToken, match="bad_client"):
            await verifier.verify(okta_issuer.mint())


async def test_id_token_is_not_an_access_token(okta_issuer: LocalIssuer) -> None:
    """An ID token (aud = client id) is refused by its audience."""
    async with okta_issuer.verifier() as verifier:
        with pytest.raises(InvalidToken, match="bad_audience"):
            await verifier.verify(okta_issuer.mint_id_token(nonce="n"))


def count_key_lookups(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    calls: list[str] = []
    original = KeyStore.get

    async def spy(self: KeyStore, kid: str, alg: str) -> Any:
        calls.append(kid)
        return await original(self, kid, alg)

    monkeypatch.setattr(KeyStore, "get", spy)
    return calls


async def test_repeated_token_skips_signature_work(
    okta_issuer: LocalIssuer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A repeated token is answered from the verified-token cache."""
    calls = count_key_lookups(monkeypatch)
    token = okta_issuer.mint()
    async with okta_issuer.verifier() as verifier:
        first = await verifier.verify(token)
        second = await verifier.verify(token)
    assert first is second
    assert len(calls) == 1


async def test_cache_can_be_turned_off(
    okta_issuer: LocalIssuer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With token_cache_size=0 every call verifies the signature again."""
    calls = count_key_lookups(monkeypatch)
    token = okta_issuer.mint()
    async with okta_issuer.verifier(token_cache_size=0) as verifier:
        await verifier.verify(token)
        await verifier.verify(token)
    assert len(calls) == 2


async def test_cached_token_still_expires() -> None:
    """A cached token is rejected once its exp (plus leeway) passes."""
    clock = Clock()
    issuer = LocalIssuer(clock=clock)
    token = issuer.mint(exp=int(clock.now) + 60)
    async with issuer.verifier(clock=clock, leeway=0, keys=KeyPolicy(max_stale=10**6)) as verifier:
        await verifier.verify(token)
        clock.advance(61)
        with pytest.raises(InvalidToken, match="expired"):
            await verifier.verify(token)


async def test_cached_token_scopes_checked_every_time(okta_issuer: LocalIssuer) -> None:
    """A cache hit still enforces the route's scopes."""
    token = okta_issuer.mint(scp=["a"])
    async with okta_issuer.verifier() as verifier:
        await verifier.verify(token, required_scopes=["a"])
        with pytest.raises(InsufficientScope):
            await verifier.verify(token, required_scopes=["b"])


async def test_cache_is_bounded(okta_issuer: LocalIssuer) -> None:
    """The cache holds at most token_cache_size tokens."""
    async with okta_issuer.verifier(token_cache_size=3) as verifier:
        for _ in range(10):
            await verifier.verify(okta_issuer.mint())
        assert verifier._cache is not None
        assert len(verifier._cache) == 3


async def test_errors_never_contain_the_token(okta_issuer: LocalIssuer) -> None:
    """Exception messages carry reasons, never token contents."""
    token = okta_issuer.mint(aud="api://elsewhere")
    async with okta_issuer.verifier() as verifier:
        with pytest.raises(InvalidToken) as info:
            await verifier.verify(token)
    text = str(info.value) + repr(info.value)
    for part in token.split("."):
        assert part[:12] not in text


async def test_owned_client_is_closed(okta_issuer: LocalIssuer) -> None:
    """A verifier that created its HTTP client closes it in aclose()."""
    # Port 9 (discard) is closed on loopback: the fetch fails fast, but the client exists.
    verifier = TokenVerifier(
        "http://127.0.0.1:9/oauth2/default", "api://default", jwks_uri="http://127.0.0.1:9/keys"
    )
    with pytest.raises(KeysUnavailable):
        await verifier.verify(okta_issuer.mint())
    client = verifier.keys._client
    assert client is not None
    await verifier.aclose()
    assert client.is_closed


async def test_injected_transport_is_used_and_closed(okta_issuer: LocalIssuer) -> None:
    """The verifier fetches over the transport it is given and closes it with its client."""

    class Recording(httpx.AsyncBaseTransport):
        closed = False

        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            return okta_issuer.handler(request)

        async def aclose(self) -> None:
            self.closed = True

    transport = Recording()
    verifier = okta_issuer.verifier(transport=transport)
    await verifier.verify(okta_issuer.mint())
    assert okta_issuer.count("/v1/keys") == 1
    await verifier.aclose()
    assert transport.closed


async def test_rotate_then_mint_verifies_with_the_default_verifier(
    okta_issuer: LocalIssuer,
) -> None:
    """LocalIssuer.rotate() then mint() verifies at once with default options (no cooldown knob)."""
    async with okta_issuer.verifier() as verifier:
        await verifier.verify(okta_issuer.mint())
        okta_issuer.rotate(keep_old=False)
        claims = await verifier.verify(okta_issuer.mint())
    assert claims.sub == "alice@example.com"
    assert okta_issuer.count("/v1/keys") == 2


async def test_ed25519_tokens_verify_and_stay_apart_from_eddsa() -> None:
    """An issuer signing with RFC 9864's Ed25519 is accepted; an EdDSA token is not Ed25519."""
    fully_specified = LocalIssuer(algorithm="Ed25519")
    async with fully_specified.verifier() as verifier:
        assert (await verifier.verify(fully_specified.mint())).sub == "alice@example.com"
    polymorphic = LocalIssuer(algorithm="EdDSA")
    async with polymorphic.verifier(algorithms=("Ed25519",)) as verifier:
        with pytest.raises(InvalidToken, match="bad_alg"):
            await verifier.verify(polymorphic.mint())
