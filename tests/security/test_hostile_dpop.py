"""Hostile DPoP requests (RFC 9449) through BearerAuthMiddleware, one table row per attack.

As in ``test_hostile_requests``: each row is a request and its exact answer,
the HTTP status and which challenge carries which ``error``, and every row
proves that the response and the library's log hold no token, proof or
exception text.  The middleware runs with ``DPoPSettings`` (``allowed`` mode
unless a row says otherwise).  Tokens come from the security world's issuer
at its fixed ``NOW``; proofs carry the real time, which the DPoP guard uses.

A few rows are positive controls (200), so a 401 elsewhere is the attack
being refused, not the harness being broken.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math
import re
import time
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from okta_bearer import DPoPSettings, MemoryStore, TokenVerifier
from okta_bearer._store.memory import StoreUnavailable
from okta_bearer.testing import OMIT, DPoPKey

from ..web_drivers import DRIVERS, App
from ._world import (
    ALGORITHMS,
    ISSUER,
    REQUIRED_SCOPE,
    World,
    assert_no_leak,
    b64,
    capture_library_logs,
    clock,
)

OK, BAD_REQUEST, UNAUTHORIZED, UNAVAILABLE = 200, 400, 401, 503
API = "http://api.test"
URL = f"{API}/"
KEY = DPoPKey()
OTHER_KEY = DPoPKey()
NONCE_SECRET = b"k" * 32


class DownStore(MemoryStore):
    """A replay store that cannot answer, as an unreachable Redis (on both faces)."""

    def __init__(self) -> None:
        super().__init__()
        self.sync = _DownFace()

    async def set_if_absent(self, key: str, value: bytes, ttl: float) -> bool:
        raise StoreUnavailable("down")


class _DownFace:
    """The blocking face of :class:`DownStore`: every call fails as a lost connection."""

    def __getattr__(self, name: str) -> Any:
        def down(*args: object) -> Any:
            raise StoreUnavailable("down")

        return down


@dataclass
class Req:
    """What the attacker sends: raw header pairs, a path, and what must not leak."""

    headers: list[tuple[bytes, bytes]]
    secrets: list[str] = field(default_factory=list)
    path: str = "/"
    #: Send the same request once before (its answer must be 200): a replay.
    replay: bool = False


@dataclass(frozen=True)
class Case:
    """One row: a request builder, the status, and the error on each challenge."""

    id: str
    build: Callable[[World], Req]
    status: int
    #: ``{"Bearer": error, "DPoP": error}``: the challenges expected, in
    #: order, each with its ``error`` (``None``: bare).  Empty for 200 and 503.
    challenges: Mapping[str, str | None]
    settings: Mapping[str, Any] = field(default_factory=dict)


BOTH_BARE = {"Bearer": None, "DPoP": None}


def on_dpop(error: str) -> dict[str, str | None]:
    """Both challenges, the error on DPoP's (RFC 9449 section 7.2)."""
    return {"Bearer": None, "DPoP": error}


def on_bearer(error: str) -> dict[str, str | None]:
    """Both challenges, the error on Bearer's."""
    return {"Bearer": error, "DPoP": None}


def bound_token(w: World, key: DPoPKey = KEY) -> str:
    """A token of the trusted issuer bound to ``key``."""
    return w.token(cnf={"jkt": key.jkt})


def dpop(token: str, proof: str, *more: tuple[bytes, bytes], scheme: str = "DPoP") -> Req:
    """``Authorization: DPoP <token>`` with one ``DPoP`` proof (plus extra headers)."""
    headers = [(b"authorization", f"{scheme} {token}".encode()), (b"dpop", proof.encode())]
    return Req([*headers, *more], [token, proof])


def proof_for(w: World, *, key: DPoPKey = KEY, **changes: Any) -> Req:
    """A bound token and a proof by ``key`` for ``GET /``, with ``changes`` to the proof."""
    token = bound_token(w)
    method = changes.pop("htm", "GET")
    url = changes.pop("htu", URL)
    return dpop(token, key.proof(method, url, token, **changes))


def with_iat(value: object) -> Callable[[World], Req]:
    """A builder of a proof whose ``iat`` is ``value``."""
    return lambda w: proof_for(w, iat=value)


def hand_signed(w: World, header: dict[str, Any], sign: Callable[[bytes], bytes]) -> Req:
    """A proof with exactly ``header`` and a valid body, signed by ``sign``."""
    token = bound_token(w)
    body = {
        "jti": "hand-made",
        "htm": "GET",
        "htu": URL,
        "iat": int(time.time()),
        "ath": b64(hashlib.sha256(token.encode()).digest()),
    }
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(body).encode())}"
    proof = f"{signing_input}.{b64(sign(signing_input.encode()))}"
    return dpop(token, proof)


def alg_none(w: World) -> Req:
    """A proof with ``alg: none`` and an empty signature."""
    return hand_signed(w, {"typ": "dpop+jwt", "alg": "none", "jwk": KEY.public_jwk}, lambda _: b"")


def alg_hs256(w: World) -> Req:
    """A proof MACed with HS256 under a key the attacker chose (an ``oct`` jwk)."""
    secret = b"attacker-chosen-secret-0123456789"
    jwk = {"kty": "oct", "k": b64(secret)}
    return hand_signed(
        w,
        {"typ": "dpop+jwt", "alg": "HS256", "jwk": jwk},
        lambda data: hmac.new(secret, data, hashlib.sha256).digest(),
    )


def private_jwk(w: World) -> Req:
    """A proof whose ``jwk`` carries the private scalar ``d``."""
    return proof_for(w, header={"jwk": {**KEY.public_jwk, "d": b64(b"\x01" * 32)}})


def two_proofs(w: World) -> Req:
    """Two ``DPoP`` headers, each a valid proof."""
    token = bound_token(w)
    first, second = KEY.proof("GET", URL, token), KEY.proof("GET", URL, token)
    return dpop(token, first, (b"dpop", second.encode()))


def comma_joined(w: World) -> Req:
    """Two valid proofs joined with a comma in one header."""
    token = bound_token(w)
    proof = f"{KEY.proof('GET', URL, token)}, {KEY.proof('GET', URL, token)}"
    return dpop(token, proof)


def oversized(w: World, size: int) -> Req:
    """A signed proof padded with a large claim to ``size`` characters or more."""
    return proof_for(w, pad="x" * size)


def replayed(w: World) -> Req:
    """A valid request sent a second time, proof unchanged."""
    req = proof_for(w)
    req.replay = True
    return req


def forged_host(w: World) -> Req:
    """A proof for the attacker's path, with a ``Host`` that tries to make it match."""
    token = bound_token(w)
    proof = KEY.proof("GET", "http://api.test/admin", token)
    return dpop(token, proof, (b"host", b"api.test/admin?"))


def with_query(w: World) -> Req:
    """A request with a query whose proof names the URL without it (query is ignored)."""
    req = proof_for(w)
    req.path = "/?page=2"
    return req


def unbound_as_dpop(w: World) -> Req:
    """A valid proof with a token that has no ``cnf.jkt``."""
    token = w.token()
    return dpop(token, KEY.proof("GET", URL, token))


def tampered_signature(w: World) -> Req:
    """A valid proof whose body was edited after signing (``htu`` moved to another path)."""
    req = proof_for(w)
    proof = req.headers[1][1].decode()
    head, body, sig = proof.split(".")
    claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    claims["htu"] = f"{API}/admin"
    forged = f"{head}.{b64(json.dumps(claims).encode())}.{sig}"
    req.headers[1] = (b"dpop", forged.encode())
    req.path = "/admin"
    req.secrets.append(forged)
    return req


def bearer_of(token: str) -> Req:
    """``Authorization: Bearer <token>``."""
    return Req([(b"authorization", f"Bearer {token}".encode())], [token])


CASES = [
    # Positive controls.
    Case("control-valid-dpop", proof_for, OK, {}),
    Case("control-plain-bearer", lambda w: bearer_of(w.token()), OK, {}),
    Case("control-htu-without-the-request-query", with_query, OK, {}),
    Case("control-proof-htu-with-query", lambda w: proof_for(w, htu=URL + "?a=1#f"), OK, {}),
    # Schemes and modes.
    Case("no-credentials", lambda w: Req([]), UNAUTHORIZED, BOTH_BARE),
    Case(
        "bound-token-as-bearer",
        lambda w: bearer_of(bound_token(w)),
        UNAUTHORIZED,
        on_bearer("invalid_token"),
    ),
    Case(
        "dpop-in-bearer-mode",
        proof_for,
        UNAUTHORIZED,
        {"Bearer": None},
        {"mode": "bearer"},
    ),
    Case(
        "bound-token-as-bearer-in-bearer-mode",
        lambda w: bearer_of(bound_token(w)),
        UNAUTHORIZED,
        {"Bearer": "invalid_token"},
        {"mode": "bearer"},
    ),
    Case(
        "bearer-in-required-mode",
        lambda w: bearer_of(w.token()),
        UNAUTHORIZED,
        {"DPoP": None},
        {"mode": "required"},
    ),
    Case(
        "unbound-token-as-dpop",
        unbound_as_dpop,
        UNAUTHORIZED,
        on_dpop("invalid_token"),
    ),
    Case(
        "dpop-scheme-without-proof",
        lambda w: Req([(b"authorization", f"DPoP {bound_token(w)}".encode())]),
        UNAUTHORIZED,
        on_dpop("invalid_dpop_proof"),
    ),
    # The proof's header (RFC 9449 section 4.3, checks 2 to 7).
    Case("proof-alg-none", alg_none, UNAUTHORIZED, on_dpop("invalid_dpop_proof")),
    Case("proof-alg-hs256", alg_hs256, UNAUTHORIZED, on_dpop("invalid_dpop_proof")),
    Case("proof-private-jwk", private_jwk, UNAUTHORIZED, on_dpop("invalid_dpop_proof")),
    Case(
        "proof-typ-jwt",
        lambda w: proof_for(w, header={"typ": "JWT"}),
        UNAUTHORIZED,
        on_dpop("invalid_dpop_proof"),
    ),
    Case(
        "proof-without-jwk",
        lambda w: proof_for(w, header={"jwk": OMIT}),
        UNAUTHORIZED,
        on_dpop("invalid_dpop_proof"),
    ),
    Case(
        "proof-jwk-of-another-key",
        lambda w: proof_for(w, header={"jwk": OTHER_KEY.public_jwk}),
        UNAUTHORIZED,
        on_dpop("invalid_dpop_proof"),
    ),
    Case(
        "proof-crit-header",
        lambda w: proof_for(w, header={"crit": ["exp"]}),
        UNAUTHORIZED,
        on_dpop("invalid_dpop_proof"),
    ),
    Case(
        "proof-signature-tampered",
        tampered_signature,
        UNAUTHORIZED,
        on_dpop("invalid_dpop_proof"),
    ),
    Case(
        "proof-garbage",
        lambda w: dpop(bound_token(w), "not.a.proof"),
        UNAUTHORIZED,
        on_dpop("invalid_dpop_proof"),
    ),
    Case(
        "proof-oversized",
        lambda w: oversized(w, 9000),
        UNAUTHORIZED,
        on_dpop("invalid_dpop_proof"),
    ),
    Case(
        "proof-megabyte",
        lambda w: dpop(bound_token(w), "e" * (1024 * 1024)),
        UNAUTHORIZED,
        on_dpop("invalid_dpop_proof"),
    ),
    Case("two-dpop-headers", two_proofs, UNAUTHORIZED, on_dpop("invalid_dpop_proof")),
    Case("comma-joined-proofs", comma_joined, UNAUTHORIZED, on_dpop("invalid_dpop_proof")),
    # The proof's claims (checks 8 to 12).
    Case(
        "htm-other-method",
        lambda w: proof_for(w, htm="POST"),
        UNAUTHORIZED,
        on_dpop("invalid_dpop_proof"),
    ),
    Case(
        "htu-other-host",
        lambda w: proof_for(w, htu="http://evil.example/"),
        UNAUTHORIZED,
        on_dpop("invalid_dpop_proof"),
    ),
    Case(
        "htu-other-path",
        lambda w: proof_for(w, htu=f"{API}/admin"),
        UNAUTHORIZED,
        on_dpop("invalid_dpop_proof"),
    ),
    Case(
        "htu-other-scheme",
        lambda w: proof_for(w, htu="https://api.test/"),
        UNAUTHORIZED,
        on_dpop("invalid_dpop_proof"),
    ),
    Case("forged-host-header", forged_host, BAD_REQUEST, on_dpop("invalid_request")),
    Case(
        "iat-stale",
        lambda w: proof_for(w, iat=int(time.time()) - 3600),
        UNAUTHORIZED,
        on_dpop("invalid_dpop_proof"),
    ),
    Case(
        "iat-future",
        lambda w: proof_for(w, iat=int(time.time()) + 3600),
        UNAUTHORIZED,
        on_dpop("invalid_dpop_proof"),
    ),
    # Hostile numbers (issue 14, item 4): never an OverflowError, always 401.
    *[
        Case(
            f"iat-{name}",
            with_iat(value),
            UNAUTHORIZED,
            on_dpop("invalid_dpop_proof"),
        )
        for name, value in [
            ("400-digits", 10**400),
            ("minus-400-digits", -(10**400)),
            ("infinity", math.inf),
            ("minus-infinity", -math.inf),
            ("nan", math.nan),
            ("1e308", 1e308),
            ("true", True),
            ("false", False),
            ("negative", -1),
            ("zero", 0),
        ]
    ],
    Case(
        "jti-missing",
        lambda w: proof_for(w, jti=OMIT),
        UNAUTHORIZED,
        on_dpop("invalid_dpop_proof"),
    ),
    Case(
        "ath-missing",
        lambda w: proof_for(w, ath=OMIT),
        UNAUTHORIZED,
        on_dpop("invalid_dpop_proof"),
    ),
    Case(
        "ath-of-another-token",
        lambda w: proof_for(w, ath=b64(hashlib.sha256(b"other").digest())),
        UNAUTHORIZED,
        on_dpop("invalid_dpop_proof"),
    ),
    Case("replayed-proof", replayed, UNAUTHORIZED, on_dpop("invalid_dpop_proof")),
    Case(
        "proof-by-another-key",
        lambda w: proof_for(w, key=OTHER_KEY),
        UNAUTHORIZED,
        on_dpop("invalid_token"),
    ),
    # Server nonces (section 9) and the replay store.
    Case(
        "nonce-required",
        proof_for,
        UNAUTHORIZED,
        on_dpop("use_dpop_nonce"),
        {"nonce_secret": NONCE_SECRET},
    ),
    Case(
        "nonce-forged",
        lambda w: proof_for(w, nonce="made-up-nonce"),
        UNAUTHORIZED,
        on_dpop("use_dpop_nonce"),
        {"nonce_secret": NONCE_SECRET},
    ),
    Case("replay-store-down", proof_for, UNAVAILABLE, {}, {"store": DownStore}),
]


@asynccontextmanager
async def dpop_client(world: World, settings: Mapping[str, Any], driver: str) -> AsyncIterator[App]:
    """The protected app on ``driver``'s framework with DPoP on (fresh store and verifier)."""
    options = dict(settings)
    if "store" in options:
        options["store"] = options["store"]()
    verifier = TokenVerifier(
        ISSUER,
        world.issuer.audience,
        transport=world.issuer.transport(),
        algorithms=ALGORITHMS,
        clock=clock,
    )
    async with DRIVERS[driver](
        verifier, base_url=API, required_scopes=[REQUIRED_SCOPE], dpop=DPoPSettings(**options)
    ) as app:
        yield app
    await verifier.aclose()


_ERROR = re.compile(r'\berror="([^"]*)"')
_NEXT_CHALLENGE = re.compile(r", (?=(?:Bearer|DPoP) )")


def challenge_errors(response: httpx.Response) -> dict[str, str | None]:
    """Each challenge's scheme and its ``error`` (``None``: bare), in order."""
    found: dict[str, str | None] = {}
    # One field may carry several challenges (RFC 9110 section 11.6.1): Django, whose
    # responses hold one value per header name, sends Bearer's and DPoP's that way.
    fields = response.headers.get_list("www-authenticate")
    for value in (v for f in fields for v in _NEXT_CHALLENGE.split(f)):
        scheme = value.split(" ", 1)[0]
        assert scheme not in found, "one challenge per scheme"
        match = _ERROR.search(value)
        found[scheme] = match.group(1) if match else None
    return found


def test_the_table_covers_the_issue() -> None:
    """The DPoP table holds at least 35 rows, each with a unique name."""
    assert len([case for case in CASES if case.status != OK]) >= 35
    assert len({case.id for case in CASES}) == len(CASES)


@pytest.mark.anyio
@pytest.mark.parametrize("driver", DRIVERS)
@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
async def test_hostile_dpop_request(
    case: Case, driver: str, world: World, caplog: pytest.LogCaptureFixture
) -> None:
    """Every framework gives the documented answer and challenges, and leaks nothing."""
    capture_library_logs(caplog)
    request = case.build(world)
    async with dpop_client(world, case.settings, driver) as app:
        if request.replay:
            first = await app.request("GET", request.path, request.headers)
            assert first.status_code == OK
        response = await app.request("GET", request.path, request.headers)

    assert response.status_code == case.status, response.text
    assert challenge_errors(response) == dict(case.challenges)
    assert list(challenge_errors(response)) == list(case.challenges)
    if case.status == UNAVAILABLE:
        assert response.headers["retry-after"] == "5"
    if case.status != OK:
        assert response.headers["cache-control"] == "no-store"
    if "nonce_secret" in case.settings:
        assert re.fullmatch(r"[A-Za-z0-9_-]{43}", response.headers["dpop-nonce"])
    else:
        assert "dpop-nonce" not in response.headers
    assert_no_leak(response, request.secrets, caplog)
