"""DPoPGuard: schemes per mode, binding, replay through the store, nonces and challenges.

Tests of ``check`` run through both sides (the ``check`` fixture): ``check``
in the event loop and ``check_sync`` in a worker thread, the WSGI path.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import anyio.to_thread
import pytest

from okta_bearer import BearerError, Claims, ConfigurationError, InvalidRequest, InvalidToken
from okta_bearer._dpop.guard import DPoPGuard
from okta_bearer._dpop.nonce import NonceSource
from okta_bearer._dpop.proof import (
    DPoPProof,
    InvalidDPoPProof,
    ReplayCacheUnavailable,
    UseDPoPNonce,
)
from okta_bearer._dpop.settings import DPoPSettings
from okta_bearer._store.memory import MemoryStore, StoreUnavailable, _SyncMemoryStore
from okta_bearer._testing.dpop import DPoPKey
from okta_bearer.testing import LocalIssuer

from ..helpers import Clock

pytestmark = pytest.mark.anyio

URL = "https://api.example.test/items"
SECRET = b"n" * 32


@pytest.fixture
def clock() -> Clock:
    """The one clock of issuer, client key and guard."""
    return Clock()


@pytest.fixture
def issuer(clock: Clock) -> LocalIssuer:
    """An in-memory Okta-shaped issuer."""
    return LocalIssuer(clock=clock)


@pytest.fixture
def key(clock: Clock) -> DPoPKey:
    """The client's DPoP key."""
    return DPoPKey(clock=clock)


def _scope(headers: dict[str, str] | list[tuple[str, str]], method: str = "GET") -> dict[str, Any]:
    pairs = headers.items() if isinstance(headers, dict) else headers
    return {
        "type": "http",
        "scheme": "https",
        "method": method,
        "path": "/items",
        "raw_path": b"/items",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"api.example.test")]
        + [(k.lower().encode(), v.encode()) for k, v in pairs],
    }


#: ``guard.check`` or ``guard.check_sync`` (in a worker thread), awaited alike.
Check = Callable[[DPoPGuard, dict[str, Any], Any, str, Claims], Awaitable[DPoPProof | None]]


@pytest.fixture(params=["async", "sync"])
def check(request: pytest.FixtureRequest) -> Check:
    """Each test using it runs through ``check`` and through ``check_sync``."""

    async def through_check(
        guard: DPoPGuard, scope: dict[str, Any], scheme: Any, token: str, claims: Claims
    ) -> DPoPProof | None:
        return await guard.check(scope, scheme, token, claims)

    async def through_check_sync(
        guard: DPoPGuard, scope: dict[str, Any], scheme: Any, token: str, claims: Claims
    ) -> DPoPProof | None:
        return await anyio.to_thread.run_sync(guard.check_sync, scope, scheme, token, claims)

    return through_check if request.param == "async" else through_check_sync


async def _run(
    check: Check,
    guard: DPoPGuard,
    issuer: LocalIssuer,
    headers: dict[str, str],
    method: str = "GET",
) -> Any:
    """What the middleware will do: read credentials, verify the token, then check DPoP."""
    found = guard.credentials([headers["authorization"].encode()])
    assert found is not None
    scheme, token = found
    async with issuer.verifier(clock=issuer.clock) as verifier:
        claims = await verifier.verify(token)
    return await check(guard, _scope(headers, method), scheme, token, claims)


CREDENTIALS = [
    ("bearer", "Bearer abc", ("Bearer", "abc")),
    ("bearer", "DPoP abc", None),
    ("allowed", "Bearer abc", ("Bearer", "abc")),
    ("allowed", "dpop abc", ("DPoP", "abc")),
    ("required", "Bearer abc", None),
    ("required", "DPoP abc", ("DPoP", "abc")),
    ("allowed", "Basic abc", None),
]


@pytest.mark.parametrize(("mode", "header", "expected"), CREDENTIALS)
def test_credentials_per_mode(mode: Any, header: str, expected: Any) -> None:
    """Each mode accepts its schemes; others are 'no credentials' (a bare challenge)."""
    assert DPoPGuard(DPoPSettings(mode=mode)).credentials([header.encode()]) == expected


@pytest.mark.parametrize(
    "values", [[b"DPoP a", b"DPoP b"], [b"DPoP "], [b"DPoP a b"], [b"DPoP \xff"]]
)
def test_malformed_authorization_is_invalid_request(values: list[bytes]) -> None:
    """Two headers, an empty token or bad characters are 400 invalid_request."""
    with pytest.raises(InvalidRequest):
        DPoPGuard(DPoPSettings()).credentials(values)


async def test_bound_token_with_valid_proof_accepted(
    issuer: LocalIssuer, key: DPoPKey, clock: Clock, check: Check
) -> None:
    """A cnf.jkt-bound token with a fresh proof by that key is accepted."""
    guard = DPoPGuard(DPoPSettings(), clock=clock)
    token = issuer.mint(cnf={"jkt": key.jkt})
    proof = await _run(check, guard, issuer, key.headers("GET", URL, token))
    assert proof.jkt == key.jkt


async def test_replayed_proof_refused(
    issuer: LocalIssuer, key: DPoPKey, clock: Clock, check: Check
) -> None:
    """The same proof sent twice is refused the second time (RFC 9449 section 11.1)."""
    guard = DPoPGuard(DPoPSettings(), clock=clock)
    token = issuer.mint(cnf={"jkt": key.jkt})
    headers = key.headers("GET", URL, token)
    await _run(check, guard, issuer, headers)
    with pytest.raises(InvalidDPoPProof) as caught:
        await _run(check, guard, issuer, headers)
    assert caught.value.reason == "replayed"


async def test_concurrent_replays_exactly_one_wins(
    issuer: LocalIssuer, key: DPoPKey, clock: Clock, check: Check
) -> None:
    """Of 20 concurrent requests with one proof, exactly one is accepted."""
    guard = DPoPGuard(DPoPSettings(), clock=clock)
    token = issuer.mint(cnf={"jkt": key.jkt})
    headers = key.headers("GET", URL, token)
    results = await asyncio.gather(
        *(_run(check, guard, issuer, headers) for _ in range(20)), return_exceptions=True
    )
    assert sum(not isinstance(r, BaseException) for r in results) == 1
    assert all(isinstance(r, InvalidDPoPProof) for r in results if isinstance(r, BaseException))


async def test_same_jti_from_two_keys_both_accepted(
    issuer: LocalIssuer, clock: Clock, check: Check
) -> None:
    """Replay marks are keyed by thumbprint and jti, so clients cannot collide."""
    guard = DPoPGuard(DPoPSettings(), clock=clock)
    for key in (DPoPKey(clock=clock), DPoPKey(clock=clock)):
        token = issuer.mint(cnf={"jkt": key.jkt})
        proof = key.proof("GET", URL, token, jti="same")
        await _run(check, guard, issuer, {"authorization": f"DPoP {token}", "dpop": proof})


async def test_jti_kept_for_the_whole_window(
    issuer: LocalIssuer, key: DPoPKey, clock: Clock, check: Check
) -> None:
    """The replay mark lives max_age + leeway seconds, as long as the proof is acceptable."""
    store = MemoryStore(clock=clock)
    guard = DPoPGuard(DPoPSettings(store=store), clock=clock)
    token = issuer.mint(cnf={"jkt": key.jkt})
    headers = key.headers("GET", URL, token)
    await _run(check, guard, issuer, headers)
    clock.advance(60)  # iat is now exactly max_age old: still acceptable, still marked
    with pytest.raises(InvalidDPoPProof, match="replayed"):
        await _run(check, guard, issuer, headers)


@pytest.mark.parametrize("mode", ["bearer", "allowed"])
async def test_bound_token_as_bearer_refused(
    issuer: LocalIssuer, key: DPoPKey, clock: Clock, mode: Any, check: Check
) -> None:
    """A DPoP-bound token sent as Bearer is invalid_token (RFC 9449 section 7.2 downgrade)."""
    guard = DPoPGuard(DPoPSettings(mode=mode), clock=clock)
    token = issuer.mint(cnf={"jkt": key.jkt})
    with pytest.raises(InvalidToken) as caught:
        await _run(check, guard, issuer, {"authorization": f"Bearer {token}"})
    assert caught.value.reason == "dpop_downgrade"


async def test_unbound_bearer_token_accepted(
    issuer: LocalIssuer, clock: Clock, check: Check
) -> None:
    """A plain bearer token passes the guard untouched in allowed mode."""
    guard = DPoPGuard(DPoPSettings(), clock=clock)
    assert await _run(check, guard, issuer, {"authorization": f"Bearer {issuer.mint()}"}) is None


async def test_dpop_scheme_without_proof_is_a_failed_proof(
    issuer: LocalIssuer, key: DPoPKey, clock: Clock, check: Check
) -> None:
    """The DPoP scheme without a DPoP header is invalid_dpop_proof (RFC 9449 section 7.1)."""
    guard = DPoPGuard(DPoPSettings(), clock=clock)
    token = issuer.mint(cnf={"jkt": key.jkt})
    with pytest.raises(InvalidDPoPProof, match="missing_proof"):
        await _run(check, guard, issuer, {"authorization": f"DPoP {token}"})


async def test_two_dpop_headers_refused(
    issuer: LocalIssuer, key: DPoPKey, clock: Clock, check: Check
) -> None:
    """Two DPoP header fields are refused (RFC 9449 section 4.3, check 1)."""
    guard = DPoPGuard(DPoPSettings(), clock=clock)
    token = issuer.mint(cnf={"jkt": key.jkt})
    headers = [
        ("authorization", f"DPoP {token}"),
        ("dpop", key.proof("GET", URL, token)),
        ("dpop", key.proof("GET", URL, token)),
    ]
    scope = _scope(headers)
    claims = Claims.from_payload(issuer.claims(cnf={"jkt": key.jkt}))
    with pytest.raises(InvalidDPoPProof, match="multiple_proofs"):
        await check(guard, scope, "DPoP", token, claims)


async def test_unbound_token_with_dpop_scheme_refused(
    issuer: LocalIssuer, key: DPoPKey, clock: Clock, check: Check
) -> None:
    """A token without cnf.jkt cannot be used with the DPoP scheme."""
    guard = DPoPGuard(DPoPSettings(), clock=clock)
    with pytest.raises(InvalidToken, match="dpop_unbound"):
        await _run(check, guard, issuer, key.headers("GET", URL, issuer.mint()))


async def test_proof_by_another_key_refused_and_not_recorded(
    issuer: LocalIssuer, key: DPoPKey, clock: Clock, check: Check
) -> None:
    """A proof by a key the token is not bound to is refused and writes no replay mark."""
    store = MemoryStore(clock=clock)
    guard = DPoPGuard(DPoPSettings(store=store), clock=clock)
    token = issuer.mint(cnf={"jkt": key.jkt})
    with pytest.raises(InvalidToken, match="dpop_key_mismatch"):
        await _run(check, guard, issuer, DPoPKey(clock=clock).headers("GET", URL, token))
    assert len(store) == 0


async def test_proof_for_another_method_refused(
    issuer: LocalIssuer, key: DPoPKey, clock: Clock, check: Check
) -> None:
    """A proof made for GET does not authorise a DELETE."""
    guard = DPoPGuard(DPoPSettings(), clock=clock)
    token = issuer.mint(cnf={"jkt": key.jkt})
    with pytest.raises(InvalidDPoPProof, match="bad_htm"):
        await _run(check, guard, issuer, key.headers("GET", URL, token), method="DELETE")


async def test_nonce_required_then_accepted(
    issuer: LocalIssuer, key: DPoPKey, clock: Clock, check: Check
) -> None:
    """With nonces on, a proof without one gets use_dpop_nonce and a nonce that then works."""
    guard = DPoPGuard(DPoPSettings(nonce_secret=SECRET), clock=clock)
    token = issuer.mint(cnf={"jkt": key.jkt})
    with pytest.raises(UseDPoPNonce) as caught:
        await _run(check, guard, issuer, key.headers("GET", URL, token))
    nonce = caught.value.nonce
    assert nonce == guard.current_nonce()
    headers = guard.challenge_headers(caught.value, "DPoP", realm="api")
    assert (b"dpop-nonce", nonce.encode()) in headers
    proof = await _run(check, guard, issuer, key.headers("GET", URL, token, nonce=nonce))
    assert proof.nonce == nonce


class _DownStore(MemoryStore):
    """A store whose set-if-absent fails on both faces (the async one calls the sync one)."""

    def __init__(self) -> None:
        super().__init__()
        self.sync = _DownFace(self)


class _DownFace(_SyncMemoryStore):
    def set_if_absent(self, key: str, value: bytes, ttl: float) -> bool:
        raise StoreUnavailable("down")


async def test_store_outage_fails_closed_by_default(
    issuer: LocalIssuer, key: DPoPKey, clock: Clock, check: Check
) -> None:
    """When the replay store cannot answer, a DPoP request is 503 with a retry hint."""
    guard = DPoPGuard(DPoPSettings(store=_DownStore(), retry_after=7), clock=clock)
    token = issuer.mint(cnf={"jkt": key.jkt})
    with pytest.raises(ReplayCacheUnavailable) as caught:
        await _run(check, guard, issuer, key.headers("GET", URL, token))
    assert (caught.value.status, caught.value.retry_after) == (503, 7)


async def test_store_outage_fail_open_accepts(
    issuer: LocalIssuer, key: DPoPKey, clock: Clock, check: Check
) -> None:
    """With store_failure='fail_open' the proof is accepted without a replay check."""
    settings = DPoPSettings(store=_DownStore(), store_failure="fail_open")
    token = issuer.mint(cnf={"jkt": key.jkt})
    proof = await _run(
        check, DPoPGuard(settings, clock=clock), issuer, key.headers("GET", URL, token)
    )
    assert proof.jkt == key.jkt


async def test_store_outage_does_not_touch_bearer(
    issuer: LocalIssuer, clock: Clock, check: Check
) -> None:
    """A plain bearer request never reaches the store, so an outage cannot affect it."""
    guard = DPoPGuard(DPoPSettings(store=_DownStore()), clock=clock)
    assert await _run(check, guard, issuer, {"authorization": f"Bearer {issuer.mint()}"}) is None


def _challenges(mode: Any, error: BearerError | None, scheme: Any) -> list[str]:
    guard = DPoPGuard(DPoPSettings(mode=mode, algorithms=("ES256", "RS256")))
    headers = guard.challenge_headers(error, scheme, realm="api")
    return [v.decode() for k, v in headers if k == b"www-authenticate"]


def test_no_credentials_challenges_both_schemes() -> None:
    """In allowed mode a request without credentials gets Bearer and DPoP algs=... challenges."""
    assert _challenges("allowed", None, None) == ['Bearer realm="api"', 'DPoP algs="ES256 RS256"']


def test_failed_dpop_attempt_puts_error_on_dpop_challenge() -> None:
    """A failed DPoP attempt carries the error on the DPoP challenge only (RFC 9449 7.1)."""
    error = InvalidDPoPProof("bad_htu", "DPoP proof htu does not match the request")
    assert _challenges("allowed", error, "DPoP") == [
        'Bearer realm="api"',
        'DPoP algs="ES256 RS256", error="invalid_dpop_proof", '
        'error_description="DPoP proof htu does not match the request"',
    ]


def test_failed_bearer_attempt_puts_error_on_bearer_challenge() -> None:
    """A failed Bearer attempt carries the error on the Bearer challenge only."""
    error = InvalidToken("dpop_downgrade", "A DPoP-bound token requires the DPoP scheme")
    assert _challenges("allowed", error, "Bearer") == [
        'Bearer realm="api", error="invalid_token", '
        'error_description="A DPoP-bound token requires the DPoP scheme"',
        'DPoP algs="ES256 RS256"',
    ]


@pytest.mark.parametrize(
    ("mode", "expected"),
    [("bearer", ['Bearer realm="api"']), ("required", ['DPoP algs="ES256 RS256"'])],
)
def test_challenges_follow_mode(mode: Any, expected: list[str]) -> None:
    """Bearer mode challenges only Bearer; required mode only DPoP."""
    assert _challenges(mode, None, None) == expected


@pytest.mark.parametrize("step", [6, 30, 59, 61, 100, 3600, 10**6])
async def test_wall_clock_step_back_never_reopens_a_used_proof(
    issuer: LocalIssuer, key: DPoPKey, clock: Clock, step: int, check: Check
) -> None:
    """After a wall-clock step back of any size, a used proof stays refused, second by second."""
    real = Clock(0.0)  # elapsed seconds: the store's clock and the guard's monotonic one
    guard = DPoPGuard(DPoPSettings(store=MemoryStore(clock=real)), clock=clock, monotonic=real)
    claims = Claims.from_payload(issuer.claims(cnf={"jkt": key.jkt}))
    token = issuer.mint(cnf={"jkt": key.jkt})
    headers = {"authorization": f"DPoP {token}", "dpop": key.proof("GET", URL, token)}
    assert await check(guard, _scope(headers), "DPoP", token, claims) is not None
    start = clock.now
    for second in range(1, 4 * 65):
        real.now = float(second)
        clock.now = start - step + second
        with pytest.raises(InvalidDPoPProof):
            await check(guard, _scope(headers), "DPoP", token, claims)


async def test_clock_catches_up_after_a_step_back(
    issuer: LocalIssuer, key: DPoPKey, clock: Clock, check: Check
) -> None:
    """A step back of 100 s is absorbed within 200 s: proofs on the new clock work again."""
    real = Clock(0.0)
    guard = DPoPGuard(DPoPSettings(store=MemoryStore(clock=real)), clock=clock, monotonic=real)
    claims = Claims.from_payload(issuer.claims(cnf={"jkt": key.jkt}))
    token = issuer.mint(cnf={"jkt": key.jkt})
    first = {"authorization": f"DPoP {token}", "dpop": key.proof("GET", URL, token)}
    await check(guard, _scope(first), "DPoP", token, claims)
    start = clock.now
    real.now, clock.now = 1.0, start - 100 + 1
    fresh = {"authorization": f"DPoP {token}", "dpop": key.proof("GET", URL, token)}
    with pytest.raises(InvalidDPoPProof, match="stale_iat"):
        await check(guard, _scope(fresh), "DPoP", token, claims)
    real.now, clock.now = 201.0, start - 100 + 201
    fresh = {"authorization": f"DPoP {token}", "dpop": key.proof("GET", URL, token)}
    assert await check(guard, _scope(fresh), "DPoP", token, claims) is not None


async def test_nonce_offered_before_it_expires(
    issuer: LocalIssuer, key: DPoPKey, clock: Clock, check: Check
) -> None:
    """Only a proof with the previous step's nonce gets the current one on its answer."""
    guard = DPoPGuard(DPoPSettings(nonce_secret=SECRET, nonce_step=300), clock=clock)
    source = NonceSource(SECRET, 300)
    sent: list[dict[str, Any]] = []

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(dict(message))

    start = {"type": "http.response.start", "status": 200, "headers": []}
    claims = Claims.from_payload(issuer.claims(cnf={"jkt": key.jkt}))
    token = issuer.mint(cnf={"jkt": key.jkt})
    for nonce, offered in [
        (source.current(clock.now), None),
        (source.current(clock.now - 300), source.current(clock.now)),
    ]:
        proof_text = key.proof("GET", URL, token, nonce=nonce)
        headers = {"authorization": f"DPoP {token}", "dpop": proof_text}
        proof = await check(guard, _scope(headers), "DPoP", token, claims)
        assert proof is not None
        sent.clear()
        await guard.offer_nonce(proof, send)(start)
        found = dict(sent[0]["headers"]).get(b"dpop-nonce")
        assert found == (None if offered is None else offered.encode())


async def test_a_proof_used_through_check_is_refused_by_check_sync(
    issuer: LocalIssuer, key: DPoPKey, clock: Clock
) -> None:
    """An ASGI worker and a WSGI worker sharing a store share the replay marks."""
    settings = DPoPSettings(store=MemoryStore(clock=clock))
    asgi, wsgi = DPoPGuard(settings, clock=clock), DPoPGuard(settings, clock=clock)
    token = issuer.mint(cnf={"jkt": key.jkt})
    claims = Claims.from_payload(issuer.claims(cnf={"jkt": key.jkt}))
    headers = {"authorization": f"DPoP {token}", "dpop": key.proof("GET", URL, token)}
    assert await asgi.check(_scope(headers), "DPoP", token, claims) is not None
    with pytest.raises(InvalidDPoPProof, match="replayed"):
        wsgi.check_sync(_scope(headers), "DPoP", token, claims)


class _AsyncOnlyStore(MemoryStore):
    """A store with no blocking face."""

    def __init__(self) -> None:
        super().__init__()
        self.sync = None  # type: ignore[assignment]


def test_check_sync_names_a_store_without_a_blocking_face(
    issuer: LocalIssuer, key: DPoPKey, clock: Clock
) -> None:
    """check_sync with an async-only store is a ConfigurationError naming the store option."""
    guard = DPoPGuard(DPoPSettings(store=_AsyncOnlyStore()), clock=clock)
    token = issuer.mint(cnf={"jkt": key.jkt})
    claims = Claims.from_payload(issuer.claims(cnf={"jkt": key.jkt}))
    headers = {"authorization": f"DPoP {token}", "dpop": key.proof("GET", URL, token)}
    with pytest.raises(ConfigurationError, match=r"^store has no blocking face"):
        guard.check_sync(_scope(headers), "DPoP", token, claims)


def test_nonce_to_offer_is_the_current_nonce_unless_the_proof_carried_it(
    issuer: LocalIssuer, key: DPoPKey, clock: Clock
) -> None:
    """A WSGI answer gets DPoP-Nonce from nonce_to_offer exactly when offer_nonce would add it."""
    guard = DPoPGuard(DPoPSettings(nonce_secret=SECRET, nonce_step=300), clock=clock)
    source = NonceSource(SECRET, 300)
    token = issuer.mint(cnf={"jkt": key.jkt})
    claims = Claims.from_payload(issuer.claims(cnf={"jkt": key.jkt}))
    for nonce, offered in [
        (source.current(clock.now), None),
        (source.current(clock.now - 300), source.current(clock.now)),
    ]:
        headers = {
            "authorization": f"DPoP {token}",
            "dpop": key.proof("GET", URL, token, nonce=nonce),
        }
        proof = guard.check_sync(_scope(headers), "DPoP", token, claims)
        assert proof is not None
        assert guard.nonce_to_offer(proof) == offered
    assert DPoPGuard(DPoPSettings()).current_nonce() is None
