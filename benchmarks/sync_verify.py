"""The sync (WSGI) side: ``verify_sync`` against the floor and the sync peers, interleaved.

Contenders, each checking signature, ``iss``, ``aud`` and ``exp`` (the floor
only the signature):

* the RS256 floor (``cryptography`` verify + base64 + JSON);
* ``TokenVerifier.verify_sync``, fresh tokens (cache off; cache on, miss and
  insert) and a repeated token (cache hit);
* PyJWT with ``PyJWKClient`` fetching from a loopback JWKS server (the usual
  Flask recipe);
* authlib's ``ResourceProtector`` with its RFC 9068 ``JWTBearerTokenValidator``
  (the keys preloaded, so it is timed at its best), the whole
  ``validate_request`` path a Flask view decorator runs.

Before timing, each contender must accept a good token and refuse one with a
tampered signature.  Tokens carry what RFC 9068 makes essential (``typ:
at+jwt``, ``client_id``, ``jti``), so authlib accepts them; every contender
verifies the same tokens.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable
from typing import Any

import jwt

from okta_bearer.testing import LocalIssuer

from ._common import AUDIENCE, ISSUER, Contender, interleave, ratio, table, us, verdict
from ._jwks_server import JWKSServer
from .verify import KEYS_PATH, _accepts, async_batch, floor_rs256, sync_batch, tamper


def _mint(issuer: LocalIssuer, n: int) -> list[str]:
    return [
        issuer.mint(header={"typ": "at+jwt"}, client_id="0oa-bench", jti=f"jti-{i}")
        for i in range(n)
    ]


def _authlib_protector(issuer: LocalIssuer) -> Callable[[str], object]:
    with warnings.catch_warnings(record=True):
        from authlib.oauth2 import ResourceProtector  # type: ignore[import-untyped]
        from authlib.oauth2.rfc6749.requests import JsonRequest  # type: ignore[import-untyped]
        from authlib.oauth2.rfc6750 import BearerTokenValidator  # type: ignore[import-untyped]
        from authlib.oauth2.rfc9068 import (  # type: ignore[import-untyped]
            JWTBearerTokenValidator,
        )

    jwks = issuer.jwks()

    class Validator(JWTBearerTokenValidator):  # type: ignore[misc]
        def get_jwks(self) -> dict[str, Any]:
            return jwks

    protector = ResourceProtector()
    protector.register_token_validator(Validator(ISSUER, AUDIENCE))
    assert isinstance(protector.get_token_validator("bearer"), BearerTokenValidator)

    def verify(token: str) -> object:
        request = JsonRequest(
            "GET", "http://api.test/", headers={"Authorization": f"Bearer {token}"}
        )
        return protector.validate_request(None, request)

    return verify


async def run(*, rounds: int, calls: int) -> str:
    """Time the sync contenders in one interleaved run; the table and the target check."""
    issuer = LocalIssuer(ISSUER, AUDIENCE)
    tokens = _mint(issuer, calls)
    public_key = issuer.signing_key.private_key.public_key()
    no_cache = issuer.verifier(token_cache_size=0)
    cached = issuer.verifier()
    no_cache.verify_sync(tokens[0])  # keys fetched outside the timed region
    async_side = issuer.verifier(token_cache_size=0)
    await async_side.verify(tokens[0])
    cached.verify_sync(tokens[0])

    def fresh_cache_on(n: int) -> Any:
        verifier = issuer.verifier()
        verifier.verify_sync(_mint(issuer, 1)[0])
        batch = sync_batch(verifier.verify_sync, tokens)

        async def timed() -> float:
            try:
                return await batch(n)
            finally:
                verifier.close()

        return timed()

    async def fresh_batch(n: int) -> float:
        return float(await fresh_cache_on(n))

    with JWKSServer({KEYS_PATH: issuer.jwks()}) as server:
        jwk_client = jwt.PyJWKClient(server.url(KEYS_PATH))

        def pyjwk_client(token: str) -> object:
            signing_key = jwk_client.get_signing_key_from_jwt(token)
            return jwt.decode(
                token, signing_key.key, algorithms=["RS256"], audience=AUDIENCE, issuer=ISSUER
            )

        authlib_verify = _authlib_protector(issuer)
        floor = functools.partial(floor_rs256, key=public_key)
        checks: list[tuple[str, Callable[[str], object]]] = [
            ("floor", floor),
            ("okta_bearer verify_sync", no_cache.verify_sync),
            ("PyJWKClient", pyjwk_client),
            ("authlib ResourceProtector", authlib_verify),
        ]
        for name, fn in checks:
            if not await _accepts(fn, tokens[1]) or await _accepts(fn, tamper(tokens[2])):
                raise SystemExit(f"{name} does not verify as expected; refusing to time it")
        rows = [
            Contender("floor: cryptography verify + b64 + json", sync_batch(floor, tokens)),
            Contender(
                "verify_sync, fresh token (cache off)", sync_batch(no_cache.verify_sync, tokens)
            ),
            Contender("verify_sync, fresh token (cache on, miss+insert)", fresh_batch),
            Contender(
                "verify (async side, same run), fresh token (cache off)",
                async_batch(async_side.verify, tokens),
            ),
            Contender(
                "verify_sync, repeated token (cache hit)",
                sync_batch(cached.verify_sync, [tokens[0]] * calls),
            ),
            Contender("PyJWT + PyJWKClient (loopback JWKS)", sync_batch(pyjwk_client, tokens)),
            Contender(
                "authlib ResourceProtector + RFC 9068 validator (keys preloaded)",
                sync_batch(authlib_verify, tokens),
            ),
        ]
        await interleave(rows, rounds=rounds, calls=calls, progress="verify_sync")
    no_cache.close()
    cached.close()
    await async_side.aclose()
    base = rows[0].median
    pyjwk = rows[5].median
    lines = [
        f"Okta-shaped RS256 access token; {rounds} interleaved rounds x {calls} calls, medians.",
        "",
        table(
            ["contender", "us/verify", "x floor", "speed-up vs PyJWKClient"],
            [[c.name, us(c.median), ratio(c.median, base), ratio(pyjwk, c.median)] for c in rows],
        ),
        "",
        "Target: fresh verify_sync within 1.3x the floor:",
        f"- cache off {ratio(rows[1].median, base)}, cache on {ratio(rows[2].median, base)} -> "
        + verdict(rows[1].median <= 1.3 * base and rows[2].median <= 1.3 * base),
        f"- the async side in the same run: {ratio(rows[3].median, base)} (cache off); "
        "the instruction counts (callgrind) give both sides without the machine's noise",
    ]
    return "\n".join(lines)
