"""DPoP (RFC 9449): what a DPoP request costs on top of a bearer request.

RFC 9449 adds two things to a request whose token is already verified (or
cached): one proof signature check (the proof carries its own public key, so
this includes building that key) and one atomic set-if-absent of the proof's
``jti`` in the replay store.  This section times those two parts on their own
(the floor), then the library doing the whole DPoP side of a request,
``okta_bearer._dpop.guard.DPoPGuard.check`` (proof checks of section 4.3,
token binding, replay mark), with the in-memory store and with a real
``redis-server`` on loopback started here.  When the middleware accepts
``dpop=`` settings it also times whole ASGI requests: the same bound token
(cached by the verifier) sent as ``DPoP`` with a fresh proof, against the same
app with a bearer token.

Every proof is fresh (new ``jti``, ``iat`` now), made before its batch is
timed.  Rows are interleaved like the other sections and reported twice: by
process CPU time (what the process spends) and by wall time (what a request
waits, which for Redis includes the loopback round trip and the scheduling of
the redis-server process on this shared machine).
"""

from __future__ import annotations

import base64
import functools
import inspect
import json
import time
import uuid
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from okta_bearer import BearerAuthMiddleware
from okta_bearer._dpop.guard import DPoPGuard
from okta_bearer._dpop.settings import DPoPSettings
from okta_bearer._store.memory import MemoryStore, Store
from okta_bearer.testing import DPoPKey, LocalIssuer

from ._common import Contender, Timed, interleave, table
from .apps import PATH, build_app
from .asgi import _headers, _scope, asgi_batch
from .verify import AUDIENCE, ISSUER

_ECDSA = ec.ECDSA(hashes.SHA256())
#: The URL the benchmark's requests address (asgi._scope: Host 127.0.0.1:8000, http).
URL = f"http://127.0.0.1:8000{PATH}"


def _b64(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def proof_floor(proof: str) -> dict[str, Any]:
    """The least work any DPoP server does per proof: decode, key from its ``jwk``, verify ES256.

    No claim is checked (no ``htm``/``htu``/``iat``/``ath``, no thumbprint):
    this is "one proof signature check" and nothing else.
    """
    head, body, sig = proof.split(".")
    header = json.loads(_b64(head))
    jwk = header["jwk"]
    point = b"\x04" + _b64(jwk["x"]) + _b64(jwk["y"])
    key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)
    raw = _b64(sig)
    der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    key.verify(der, f"{head}.{body}".encode("ascii"), _ECDSA)
    claims: dict[str, Any] = json.loads(_b64(body))
    return claims


def _guard_rows(
    key: DPoPKey, token: str, raw: Any, stores: dict[str, Store]
) -> list[tuple[str, Timed]]:
    headers = _headers(token)

    def proofs(n: int) -> list[str]:
        return [key.proof("GET", URL, token) for _ in range(n)]

    async def floor(items: list[str]) -> None:
        for proof in items:
            proof_floor(proof)

    floor_name = "floor: one ES256 proof check (b64, json, key from jwk, verify)"
    rows = [(floor_name, Timed(proofs, floor))]
    for name, store in stores.items():

        def keys(n: int) -> list[str]:
            return [f"dpop:{key.jkt}:{uuid.uuid4()}" for _ in range(n)]

        async def mark(items: list[str], store: Store = store) -> None:
            for item in items:
                if not await store.set_if_absent(item, b"1", 65.0):
                    raise SystemExit("a fresh key was already in the store")

        rows.append((f"floor: one store round trip ({name}.set_if_absent)", Timed(keys, mark)))
    for name, store in stores.items():
        guard = DPoPGuard(DPoPSettings(mode="allowed", store=store))

        def scopes(n: int) -> list[dict[str, Any]]:
            return [_scope([*headers, (b"dpop", p.encode())]) for p in proofs(n)]

        async def check(items: list[dict[str, Any]], guard: DPoPGuard = guard) -> None:
            for scope in items:
                if await guard.check(scope, "DPoP", token, raw) is None:
                    raise SystemExit("DPoPGuard.check accepted no proof")

        rows.append((f"DPoPGuard.check, {name} (whole DPoP side)", Timed(scopes, check)))
    return rows


def middleware_has_dpop() -> bool:
    """Whether this commit's middleware takes ``dpop=`` settings (the DPoP wiring)."""
    return "dpop" in inspect.signature(BearerAuthMiddleware.__init__).parameters


def _asgi_rows(
    issuer: LocalIssuer, key: DPoPKey, bearer: str, bound: str, stores: dict[str, Store]
) -> tuple[list[tuple[str, Timed]], list[Any]]:
    verifiers = [issuer.verifier() for _ in range(1 + len(stores))]
    bearer_app = build_app("okta_bearer", verifier=verifiers[0])
    bearer_sets = [_headers(bearer)]

    async def run_asgi(app: Any, sets: list[Any]) -> None:
        await asgi_batch(app, sets)(len(sets))

    rows = [
        (
            "ASGI request, Bearer, repeated token (middleware, DPoP off)",
            Timed(
                lambda n: bearer_sets * n,
                lambda sets: run_asgi(bearer_app, sets),
            ),
        )
    ]
    for (name, store), verifier in zip(stores.items(), verifiers[1:], strict=True):
        settings = DPoPSettings(mode="allowed", store=store)
        app = build_app("okta_bearer", verifier=verifier, dpop=settings)

        def sets(n: int) -> list[list[tuple[bytes, bytes]]]:
            return [
                [(k.encode(), v.encode()) for k, v in key.headers("GET", URL, bound).items()]
                + _headers(bound)[:3]
                for _ in range(n)
            ]

        rows.append(
            (
                f"ASGI request, DPoP, repeated bound token, fresh proof ({name})",
                Timed(sets, functools.partial(run_asgi, app)),
            )
        )
    return rows, verifiers


async def run(*, rounds: int, calls: int, redis_url: str | None) -> str:
    """Run the DPoP section and return its report."""
    from okta_bearer.redis_store import RedisStore

    issuer = LocalIssuer(ISSUER, AUDIENCE)
    key = DPoPKey("ES256")
    bound = issuer.mint(cnf={"jkt": key.jkt}, exp=int(time.time()) + 86400)
    bearer = issuer.mint(exp=int(time.time()) + 86400)
    stores: dict[str, Store] = {"MemoryStore": MemoryStore()}
    if redis_url is not None:
        stores["RedisStore"] = RedisStore(redis_url)
    verifier = issuer.verifier()
    try:
        raw = (await verifier.verify(bound)).raw
        rows = _guard_rows(key, bound, raw, stores)
        extra_verifiers: list[Any] = []
        wired = middleware_has_dpop()
        if wired:
            asgi, extra_verifiers = _asgi_rows(issuer, key, bearer, bound, stores)
            for v in extra_verifiers:
                await v.verify(bearer)  # keys fetched before timing
            rows += asgi
        contenders = [Contender(name, timed.batch) for name, timed in rows]
        await interleave(contenders, rounds=rounds, calls=calls, progress="dpop")
    finally:
        await verifier.aclose()
        for v in extra_verifiers:
            await v.aclose()
        for store in stores.values():
            await store.aclose()

    wall = {name: timed.wall_median for name, timed in rows}
    cpu = {c.name: c.median for c in contenders}
    names = [name for name, _ in rows]
    body = [[n, f"{cpu[n] * 1e6:.1f}", f"{wall[n] * 1e6:.1f}"] for n in names]
    floor_name = names[0]
    lines = [
        f"ES256 proofs (DPoPKey), one fresh proof per call; {rounds} interleaved rounds x "
        f"{calls} calls, medians (CPU: process time; wall: perf_counter).",
        "",
        table(["contender", "us/call CPU", "us/call wall"], body),
        "",
        "Target (issue 10): the DPoP side of a request costs at most one proof signature check "
        "plus one store round trip:",
    ]
    for store_name in stores:
        check = f"DPoPGuard.check, {store_name} (whole DPoP side)"
        trip = f"floor: one store round trip ({store_name}.set_if_absent)"
        for label, table_ in (("CPU", cpu), ("wall", wall)):
            bound_cost = table_[floor_name] + table_[trip]
            lines.append(
                f"- {store_name}, {label}: check {table_[check] * 1e6:.1f} us vs floor "
                f"{table_[floor_name] * 1e6:.1f} + store {table_[trip] * 1e6:.1f} = "
                f"{bound_cost * 1e6:.1f} us -> {table_[check] / bound_cost:.2f}x"
            )
    if wired:
        base = "ASGI request, Bearer, repeated token (middleware, DPoP off)"
        lines += ["", "Whole requests through the middleware, extra cost of DPoP over Bearer:"]
        for store_name in stores:
            name = f"ASGI request, DPoP, repeated bound token, fresh proof ({store_name})"
            trip = f"floor: one store round trip ({store_name}.set_if_absent)"
            for label, table_ in (("CPU", cpu), ("wall", wall)):
                extra = table_[name] - table_[base]
                bound_cost = table_[floor_name] + table_[trip]
                lines.append(
                    f"- {store_name}, {label}: +{extra * 1e6:.1f} us per request "
                    f"({table_[name] / table_[base]:.2f}x the bearer request); "
                    f"floor + store {bound_cost * 1e6:.1f} us -> {extra / bound_cost:.2f}x"
                )
    else:
        lines += [
            "",
            "Middleware rows: not measured on this commit (BearerAuthMiddleware takes no dpop=).",
        ]
    if redis_url is None:
        lines.append("RedisStore rows: not measured (no redis-server).")
    lines.append("")
    return "\n".join(lines)
