"""The hostile world the security tests share: an issuer, an attacker, and a protected app.

Everything runs in memory: the issuer's discovery documents and JWKS are
served by :meth:`LocalIssuer.handler` through an ``httpx.MockTransport``, and
the protected Starlette app is driven through ``httpx.ASGITransport``.  Every
request the verifier makes is logged in ``World.issuer.requests``, so a test
can prove that a URL planted in a token (``jku``, ``x5u``) was never fetched.
"""

from __future__ import annotations

import base64
import datetime
import json
import logging
import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import NameOID
from jwt.algorithms import RSAAlgorithm
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from okta_bearer import BearerAuthMiddleware, TokenVerifier
from okta_bearer.testing import LocalIssuer, SigningKey

from ..web_drivers import DRIVERS, App

#: The fixed "now" of every security test (2023-11-14T22:13:20Z).
NOW = 1_700_000_000
ISSUER = "https://okta.example.test/oauth2/default"
ISSUER_HOST = "okta.example.test"
ATTACKER_URL = "https://attacker.example/keys.json"
#: The scope the protected app requires of every request.
REQUIRED_SCOPE = "items:read"
#: Algorithms the security world accepts: RS256 as Okta, plus ES256 and PS256
#: so that algorithm/key-type confusion between allowed algorithms is tested.
ALGORITHMS = ("RS256", "ES256", "PS256")


def clock() -> float:
    """The fixed clock shared by the issuer and every verifier."""
    return float(NOW)


def b64(data: bytes) -> str:
    """Unpadded base64url, as in a compact JWS."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def compact(header: bytes | dict[str, Any], payload: bytes | dict[str, Any], sig: bytes) -> str:
    """Assemble a compact JWS from raw (or JSON-encoded) parts and a signature."""
    head = header if isinstance(header, bytes) else json.dumps(header).encode()
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return f"{b64(head)}.{b64(body)}.{b64(sig)}"


def sign_raw(
    key: SigningKey, header: bytes | dict[str, Any], payload: bytes | dict[str, Any]
) -> str:
    """Sign arbitrary header and payload bytes with ``key`` (header sent as given)."""
    head = header if isinstance(header, bytes) else json.dumps(header).encode()
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    signing_input = f"{b64(head)}.{b64(body)}"
    return f"{signing_input}.{b64(key.sign(signing_input.encode('ascii')))}"


class HostileIssuer(LocalIssuer):
    """A LocalIssuer whose JWKS also publishes hand-written (possibly hostile) members."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.extra_jwks: list[dict[str, Any]] = []

    def jwks(self) -> dict[str, Any]:
        """The published keys followed by :attr:`extra_jwks`."""
        document = super().jwks()
        document["keys"] = [*document["keys"], *self.extra_jwks]
        return document


def self_signed_certificate(key: SigningKey) -> bytes:
    """A DER certificate for ``key``'s public half, signed by itself (an ``x5c`` entry)."""
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "attacker.example")])
    start = datetime.datetime(2023, 1, 1, tzinfo=datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.private_key.public_key())
        .serial_number(1)
        .not_valid_before(start)
        .not_valid_after(start + datetime.timedelta(days=3650))
        .sign(key.private_key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.DER)


@dataclass
class World:
    """The issuer the API trusts, an attacker, and the keys both hold."""

    issuer: HostileIssuer
    rsa: SigningKey
    ec: SigningKey
    weak: SigningKey
    enc: SigningKey
    verify_ops: SigningKey
    attacker: SigningKey
    attacker_ec: SigningKey
    #: A key with the same kid as ``rsa``, held by another issuer.
    twin: SigningKey
    other_issuer: LocalIssuer
    x5c_der: bytes = field(repr=False, default=b"")

    def claims(self, **overrides: Any) -> dict[str, Any]:
        """Valid access-token claims at ``NOW``, with ``overrides`` (``OMIT`` drops one)."""
        claims = self.issuer.claims(**overrides)
        # Deterministic jti: nothing random ends up in a test's expectations.
        claims.setdefault("jti", "AT.fixed")
        return claims

    def token(self, *, header: dict[str, Any] | None = None, **claims: Any) -> str:
        """A token signed by the trusted RS256 key."""
        return self.issuer.sign(self.claims(**claims), header=header, key=self.rsa)


def build_world() -> World:
    """Generate every key once (RSA generation is the slow part)."""
    rsa = SigningKey.generate("RS256", kid="rsa-main")
    ec = SigningKey.generate("ES256", kid="ec-main")
    weak = SigningKey.generate("RS256", kid="rsa-weak-1024", key_size=1024)
    enc = SigningKey.generate("RS256", kid="rsa-enc")
    verify_ops = SigningKey.generate("RS256", kid="rsa-encrypt-ops")
    attacker = SigningKey.generate("RS256", kid="attacker")
    attacker_ec = SigningKey.generate("ES256", kid="attacker-ec")
    twin = SigningKey.generate("RS256", kid="rsa-main")

    issuer = HostileIssuer(ISSUER, clock=clock)
    issuer.keys = [ec, rsa]
    weak_jwk = weak.public_jwk
    enc_jwk = {**enc.public_jwk, "use": "enc"}
    ops_jwk = {**verify_ops.public_jwk, "key_ops": ["encrypt"]}
    ops_jwk.pop("use")
    # The attacker's own private key, published by mistake under another kid.
    private_jwk = _private_jwk(attacker, kid="rsa-private")
    oct_jwk = {"kty": "oct", "kid": "oct-key", "k": b64(b"shared-secret-0123456789abcdef")}
    # Members with hostile JSON numbers (400-digit integers, 1e308, a boolean; NaN and
    # 1e400 are rows of tests/faults/test_cold_start_faults.py, which serves raw JSON
    # text): each such key is skipped, never the set, never a 500.
    rsa_jwk, ec_jwk = rsa.public_jwk, ec.public_jwk
    number_jwks = [
        {**rsa_jwk, "kid": "rsa-huge-n", "n": 10**400},
        {**rsa_jwk, "kid": "rsa-negative-e", "e": -(10**400)},
        {**ec_jwk, "kid": "ec-1e308-x", "x": 1e308},
        {**rsa_jwk, "kid": "rsa-bool-kty", "kty": True},
        {**rsa_jwk, "kid": 10**400},
    ]
    issuer.extra_jwks = [weak_jwk, enc_jwk, ops_jwk, private_jwk, oct_jwk, *number_jwks]

    other = LocalIssuer("https://other.example.test/oauth2/default", clock=clock)
    other.keys = [twin]
    return World(
        issuer=issuer,
        rsa=rsa,
        ec=ec,
        weak=weak,
        enc=enc,
        verify_ops=verify_ops,
        attacker=attacker,
        attacker_ec=attacker_ec,
        twin=twin,
        other_issuer=other,
        x5c_der=self_signed_certificate(attacker),
    )


def _private_jwk(key: SigningKey, *, kid: str) -> dict[str, Any]:
    jwk: dict[str, Any] = json.loads(RSAAlgorithm.to_jwk(key.private_key))
    jwk.update(kid=kid, alg="RS256", use="sig")
    return jwk


async def whoami(request: Request) -> JSONResponse:
    """The protected endpoint: echoes the caller's subject."""
    return JSONResponse({"sub": request.user.identity})


def protected_app(verifier: TokenVerifier, **options: Any) -> BearerAuthMiddleware:
    """A tiny Starlette app behind the middleware, requiring ``items:read``."""
    app = Starlette(routes=[Route("/", whoami)])
    options.setdefault("required_scopes", (REQUIRED_SCOPE,))
    return BearerAuthMiddleware(app, verifier=verifier, **options)


@asynccontextmanager
async def api_client(
    world: World,
    *,
    wrap: Callable[[Any], Any] | None = None,
    driver: str | None = None,
    **verifier_options: Any,
) -> AsyncIterator[tuple[Any, TokenVerifier]]:
    """A client for the protected app, with a fresh verifier (and fresh caches).

    ``driver`` names a framework of :data:`tests.web_drivers.DRIVERS` (the
    app requires ``items:read`` on every one); ``None``: the Starlette app
    behind the middleware, which ``wrap`` may wrap in more ASGI layers.
    """
    verifier_options.setdefault("algorithms", ALGORITHMS)
    verifier_options.setdefault("clock", clock)
    verifier = TokenVerifier(
        ISSUER, world.issuer.audience, transport=world.issuer.transport(), **verifier_options
    )
    if driver is not None:
        assert wrap is None, "wrap= is for the ASGI app only"
        async with DRIVERS[driver](verifier, required_scopes=[REQUIRED_SCOPE]) as framework:
            yield _Requests(framework), verifier
        await verifier.aclose()
        return
    app: Any = protected_app(verifier)
    if wrap is not None:
        app = wrap(app)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api.test") as client:
        yield client, verifier
    await verifier.aclose()


class _Requests:
    """``get(path, headers=...)`` over a web driver's app, as on an httpx client."""

    def __init__(self, app: App) -> None:
        self.app = app

    async def get(self, path: str, *, headers: list[tuple[bytes, bytes]]) -> httpx.Response:
        """Send ``GET path`` with these raw header pairs."""
        return await self.app.request("GET", path, headers)


_ERROR = re.compile(r'\berror="([^"]*)"')
#: Words that would betray an exception or stack trace in a response.
_EXCEPTION_MARKERS = (
    "Traceback",
    'File "',
    "Error:",
    "Exception",
    "binascii",
    "JSONDecode",
    "Overflow",
    "Recursion",
    "UnicodeDecode",
    "PyJWT",
    "cryptography",
    "line ",
)


def challenge_error(response: httpx.Response) -> str | None:
    """The ``error`` attribute of the response's Bearer challenge, or ``None``."""
    values = response.headers.get_list("www-authenticate")
    if not values:
        return None
    assert len(values) == 1, "exactly one challenge"
    assert values[0].startswith("Bearer"), values[0]
    match = _ERROR.search(values[0])
    return match.group(1) if match else None


def fragments(secret: str) -> list[str]:
    """The secret and every dot-separated piece of it long enough to be identifying."""
    pieces = [secret, *secret.split(".")]
    return [p for p in pieces if len(p) >= 8]


def assert_no_leak(
    response: httpx.Response, secrets: list[str], caplog: pytest.LogCaptureFixture | None = None
) -> None:
    """The response (and the library's log) carries no secret, exception or stack trace."""
    text = response.text + "\n" + "\n".join(f"{k}: {v}" for k, v in response.headers.items())
    for secret in secrets:
        for piece in fragments(secret):
            assert piece not in text, "token material in the response"
    for marker in _EXCEPTION_MARKERS:
        assert marker not in text, f"{marker!r} in the response"
    if response.status_code != 200:
        body = response.json()
        # A 403 also names the missing scopes: the route's own names, never the token's.
        expected = {"error", "error_description"}
        if response.status_code == 403:
            expected.add("missing_scope")
        assert set(body) == expected
        description = body["error_description"]
        # A fixed, short English sentence: nothing request-derived fits this shape.
        assert isinstance(description, str)
        assert re.fullmatch(r"[A-Za-z' +-]{5,60}", description), description
    if caplog is not None:
        logged = "\n".join(record.getMessage() for record in caplog.records)
        for secret in secrets:
            for piece in fragments(secret):
                assert piece not in logged, "token material in the log"


def capture_library_logs(caplog: pytest.LogCaptureFixture) -> None:
    """Record everything the library logs, down to DEBUG."""
    caplog.set_level(logging.DEBUG, logger="okta_bearer")
