"""Per-token verification: okta_bearer against the cost floor and the libraries users pick instead.

Every contender checks the signature with the issuer's key and, except the
floor, ``iss``, ``aud`` and ``exp``.  Tokens are Okta-shaped (from
:class:`okta_bearer.testing.LocalIssuer`) and distinct within a batch, except
for okta_bearer's "repeated token" row, which measures the verified-token cache.
Before timing, each contender must accept a good token and reject one with a
tampered signature, so no row measures a verifier that checks nothing.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import warnings
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from okta_bearer import TokenVerifier
from okta_bearer.testing import LocalIssuer

from ._common import (
    AUDIENCE,
    ISSUER,
    Batch,
    Contender,
    clock,
    interleave,
    ratio,
    table,
    us,
    verdict,
)
from ._jwks_server import JWKSServer

KEYS_PATH = "/oauth2/default/v1/keys"

_PKCS1 = padding.PKCS1v15()
_SHA256 = hashes.SHA256()
_ECDSA = ec.ECDSA(hashes.SHA256())


def _b64(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def floor_rs256(token: str, key: Any) -> dict[str, Any]:
    """The least work an RS256 verifier can do: decode, verify, decode; no claim checks."""
    header_b64, payload_b64, signature_b64 = token.split(".")
    json.loads(_b64(header_b64))
    signing_input = token[: len(header_b64) + 1 + len(payload_b64)].encode()
    key.verify(_b64(signature_b64), signing_input, _PKCS1, _SHA256)
    payload: dict[str, Any] = json.loads(_b64(payload_b64))
    return payload


_STANDARD = bytes.maketrans(b"-_", b"+/")
_JSON = json.JSONDecoder()


def _b64_tuned(segment: str) -> bytes:
    return binascii.a2b_base64(segment.encode().translate(_STANDARD) + b"==")


def floor_rs256_tuned(token: str, key: Any) -> dict[str, Any]:
    """The RS256 floor with the C codecs called directly, as okta_bearer does."""
    header_b64, payload_b64, signature_b64 = token.split(".")
    _JSON.decode(_b64_tuned(header_b64).decode())
    signing_input = token[: len(header_b64) + 1 + len(payload_b64)].encode()
    key.verify(_b64_tuned(signature_b64), signing_input, _PKCS1, _SHA256)
    payload: dict[str, Any] = _JSON.decode(_b64_tuned(payload_b64).decode())
    return payload


def floor_es256(token: str, key: Any) -> dict[str, Any]:
    """The same floor for ES256 (the raw ``r || s`` signature is re-encoded as DER)."""
    header_b64, payload_b64, signature_b64 = token.split(".")
    json.loads(_b64(header_b64))
    signing_input = token[: len(header_b64) + 1 + len(payload_b64)].encode()
    raw = _b64(signature_b64)
    der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    key.verify(der, signing_input, _ECDSA)
    payload: dict[str, Any] = json.loads(_b64(payload_b64))
    return payload


def sync_batch(fn: Callable[[str], object], tokens: list[str]) -> Batch:
    """A batch that calls ``fn`` on the first ``n`` tokens."""

    async def batch(n: int) -> float:
        chosen = tokens[:n]
        start = clock()
        for token in chosen:
            fn(token)
        return clock() - start

    return batch


def async_batch(fn: Callable[[str], Awaitable[object]], tokens: list[str]) -> Batch:
    """A batch that awaits ``fn`` on the first ``n`` tokens."""

    async def batch(n: int) -> float:
        chosen = tokens[:n]
        start = clock()
        for token in chosen:
            await fn(token)
        return clock() - start

    return batch


def tamper(token: str) -> str:
    """The token with one signature character changed."""
    head, _, sig = token.rpartition(".")
    middle = len(sig) // 2
    swapped = "A" if sig[middle] != "A" else "B"
    return f"{head}.{sig[:middle]}{swapped}{sig[middle + 1 :]}"


async def _accepts(fn: Callable[[str], object], token: str) -> bool:
    try:
        result = fn(token)
        if isinstance(result, Awaitable):
            await result
    except Exception:
        return False
    return True


@dataclass
class Setup:
    """The issuers, verifiers and clients one run needs (closed by :meth:`aclose`)."""

    rs: LocalIssuer
    es: LocalIssuer
    closers: list[Callable[[], Awaitable[None]]]

    async def aclose(self) -> None:
        """Close every client and verifier opened for the run."""
        for close in reversed(self.closers):
            await close()


def _verifier(issuer: LocalIssuer, setup: Setup, **options: Any) -> TokenVerifier:
    verifier = issuer.verifier(**options)
    setup.closers.append(verifier.aclose)
    return verifier


def _okta_jwt_verifier(keys_url: str) -> Callable[[str], Awaitable[None]]:
    from okta_jwt_verifier import AccessTokenVerifier  # type: ignore[import-untyped]

    verifier = AccessTokenVerifier(issuer=ISSUER, audience=AUDIENCE, leeway=30)
    # Its JWKS URI is always {issuer}/v1/keys over https; point it at the loopback
    # server instead (the one change), keeping its own fetch-and-cache path.
    verifier._jwt_verifier._construct_jwks_uri = lambda: keys_url
    return verifier.verify  # type: ignore[no-any-return]


def _joserfc(issuer: LocalIssuer, alg: str) -> Callable[[str], object]:
    from joserfc import jwt as jose_jwt
    from joserfc.jwk import ECKey, RSAKey

    key_cls = RSAKey if alg.startswith("RS") else ECKey
    key = key_cls.import_key(issuer.signing_key.public_jwk)
    registry = jose_jwt.JWTClaimsRegistry(
        leeway=30,
        iss={"essential": True, "value": ISSUER},
        aud={"essential": True, "value": AUDIENCE},
        exp={"essential": True},
    )

    def verify(token: str) -> object:
        decoded = jose_jwt.decode(token, key, algorithms=[alg])
        registry.validate(decoded.claims)
        return decoded.claims

    return verify


def _authlib(issuer: LocalIssuer, alg: str) -> Callable[[str], object]:
    # authlib.jose is deprecated in favour of joserfc and says so on import (it
    # forces its warning filter to "always", so record rather than ignore).
    with warnings.catch_warnings(record=True):
        from authlib.jose import JsonWebKey, JsonWebToken  # type: ignore[import-untyped]

    key = JsonWebKey.import_key(issuer.signing_key.public_jwk)
    decoder = JsonWebToken([alg])
    options = {
        "iss": {"essential": True, "value": ISSUER},
        "aud": {"essential": True, "value": AUDIENCE},
        "exp": {"essential": True},
    }

    def verify(token: str) -> object:
        claims = decoder.decode(token, key, claims_options=options)
        claims.validate(leeway=30)
        return claims

    return verify


async def _contenders(
    issuer: LocalIssuer, alg: str, calls: int, setup: Setup, server: JWKSServer
) -> list[Contender]:
    tokens = [issuer.mint() for _ in range(calls)]
    public_key = issuer.signing_key.private_key.public_key()
    floor = floor_rs256 if alg == "RS256" else floor_es256

    no_cache = _verifier(issuer, setup, token_cache_size=0)
    cached = _verifier(issuer, setup)
    repeated = tokens[0]

    async def fresh_cache_on(n: int) -> float:
        # A new verifier per batch, so every token is a cache miss that is then inserted.
        verifier = issuer.verifier()
        await verifier.verify(issuer.mint())  # fetch keys outside the timed region
        try:
            return await async_batch(verifier.verify, tokens)(n)
        finally:
            await verifier.aclose()

    pyjwt_decode = functools.partial(
        jwt.decode,
        key=public_key,
        algorithms=[alg],
        audience=AUDIENCE,
        issuer=ISSUER,
        leeway=30,
    )
    jwk_client = jwt.PyJWKClient(server.url(KEYS_PATH))

    def pyjwk_client(token: str) -> object:
        signing_key = jwk_client.get_signing_key_from_jwt(token)
        return jwt.decode(
            token,
            signing_key.key,
            algorithms=[alg],
            audience=AUDIENCE,
            issuer=ISSUER,
            leeway=30,
        )

    okta_verify = _okta_jwt_verifier(server.url(KEYS_PATH)) if alg == "RS256" else None
    joserfc_verify = _joserfc(issuer, alg)
    authlib_verify = _authlib(issuer, alg)

    await cached.verify(repeated)  # the repeated row measures cache hits only
    checks: list[tuple[str, Callable[[str], object]]] = [
        ("floor", functools.partial(floor, key=public_key)),
        ("okta_bearer", no_cache.verify),
        ("PyJWT", pyjwt_decode),
        ("PyJWKClient", pyjwk_client),
        ("joserfc", joserfc_verify),
        ("authlib", authlib_verify),
    ]
    if okta_verify is not None:
        checks.append(("okta-jwt-verifier", okta_verify))
        checks.append(("tuned floor", functools.partial(floor_rs256_tuned, key=public_key)))
    for name, fn in checks:
        if not await _accepts(fn, tokens[1]) or await _accepts(fn, tamper(tokens[2])):
            raise SystemExit(f"{name} ({alg}) does not verify as expected; refusing to time it")

    rows = [
        Contender(
            "floor: cryptography verify + b64 + json",
            sync_batch(functools.partial(floor, key=public_key), tokens),
        ),
        Contender(
            "floor, tuned decoding (a2b_base64, one decoder)",
            sync_batch(functools.partial(floor_rs256_tuned, key=public_key), tokens)
            if alg == "RS256"
            else None,
            note="" if alg == "RS256" else "RS256 only",
        ),
        Contender("okta_bearer, fresh token (cache off)", async_batch(no_cache.verify, tokens)),
        Contender("okta_bearer, fresh token (cache on, miss+insert)", fresh_cache_on),
        Contender(
            "okta_bearer, repeated token (cache hit)",
            async_batch(cached.verify, [repeated] * calls),
        ),
        Contender("PyJWT jwt.decode, preloaded key", sync_batch(pyjwt_decode, tokens)),
        Contender("PyJWT + PyJWKClient (loopback JWKS)", sync_batch(pyjwk_client, tokens)),
        Contender(
            "okta-jwt-verifier (loopback JWKS)",
            async_batch(okta_verify, tokens) if okta_verify is not None else None,
            note="" if okta_verify is not None else "RS256 only",
        ),
        Contender("joserfc jwt.decode + claims registry", sync_batch(joserfc_verify, tokens)),
        Contender("authlib.jose (deprecated for joserfc)", sync_batch(authlib_verify, tokens)),
    ]
    return rows


@dataclass
class VerifyResult:
    """The rows of both algorithms, and the report text."""

    rows: dict[str, list[Contender]]
    text: str


def _find(rows: list[Contender], prefix: str) -> float:
    return next(c.median for c in rows if c.name.startswith(prefix))


async def run(*, rounds: int, calls: int) -> VerifyResult:
    """Run the per-token section and return its table and target checks."""
    setup = Setup(
        LocalIssuer(ISSUER, AUDIENCE), LocalIssuer(ISSUER, AUDIENCE, algorithm="ES256"), []
    )
    jwks = {"keys": [*setup.rs.jwks()["keys"], *setup.es.jwks()["keys"]]}
    results: dict[str, list[Contender]] = {}
    try:
        with JWKSServer({KEYS_PATH: jwks}) as server:
            for alg, issuer in (("RS256", setup.rs), ("ES256", setup.es)):
                rows = await _contenders(issuer, alg, calls, setup, server)
                await interleave(rows, rounds=rounds, calls=calls, progress=f"verify {alg}")
                results[alg] = rows
    finally:
        await setup.aclose()

    sample = setup.rs.mint()
    lines = [
        f"Okta-shaped access token: {len(sample)} bytes (RS256-2048); "
        f"{rounds} interleaved rounds x {calls} calls, medians.",
        "",
    ]
    for alg, rows in results.items():
        floor = rows[0].median
        pyjwt = _find(rows, "PyJWT jwt.decode")
        body = [
            [c.name, us(c.median), ratio(c.median, floor), ratio(pyjwt, c.median), c.note]
            for c in rows
        ]
        lines.append(f"### {alg}")
        lines.append("")
        lines.append(
            table(["contender", "us/verify", "x floor", "speed-up vs PyJWT decode", "note"], body)
        )
        lines.append("")

    rs = results["RS256"]
    floor = rs[0].median
    fresh_off = _find(rs, "okta_bearer, fresh token (cache off)")
    fresh_on = _find(rs, "okta_bearer, fresh token (cache on")
    hit = _find(rs, "okta_bearer, repeated")
    pyjwt = _find(rs, "PyJWT jwt.decode")
    tuned = _find(rs, "floor, tuned")
    lines += [
        "Targets (RS256):",
        f"- fresh-token verify <= 1.25x floor: cache off {fresh_off / floor:.2f}x, "
        f"cache on {fresh_on / floor:.2f}x -> {verdict(max(fresh_off, fresh_on) <= 1.25 * floor)} "
        f"(against the tuned floor: {fresh_off / tuned:.2f}x and {fresh_on / tuned:.2f}x)",
        f"- repeated-token verify >= 20x faster than PyJWT jwt.decode: {pyjwt / hit:.0f}x "
        f"-> {verdict(pyjwt / hit >= 20)}",
        "",
    ]
    return VerifyResult(results, "\n".join(lines))
