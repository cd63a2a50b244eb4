"""Instructions per verification, counted by valgrind's callgrind: a figure noise cannot move.

Timings on a shared machine wander by tens of percent; an instruction count
does not.  Each contender runs in its own process under callgrind, which
counts only while ``itertools.starmap`` is running the calls (collection is
toggled on its C function ``starmap_next``), so interpreter start-up, imports
and key set-up are left out.  async calls are driven without an event loop:
with the keys cached, ``verify`` completes without ever suspending.

Needs ``valgrind`` (Debian: ``apt-get install valgrind``) and a CPython whose
``libpython`` keeps its symbols (pyenv builds do; Debian's stripped one does
not); otherwise the section says so and is skipped.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections import deque
from collections.abc import Callable, Coroutine, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from itertools import starmap
from pathlib import Path
from typing import Any

MODES = {
    "floor": "floor: cryptography verify + b64 + json",
    "tuned": "floor, tuned decoding (a2b_base64, one decoder)",
    "off": "okta_bearer, fresh token (cache off)",
    "on": "okta_bearer, fresh token (cache on, miss+insert)",
    "hit": "okta_bearer, repeated token (cache hit)",
    "pyjwt": "PyJWT jwt.decode, preloaded key",
    "sync-off": "okta_bearer verify_sync, fresh token (cache off)",
    "sync-on": "okta_bearer verify_sync, fresh token (cache on, miss+insert)",
    "sync-hit": "okta_bearer verify_sync, repeated token (cache hit)",
    "asgi-unprotected": "ASGI request: unprotected route",
    "asgi-noop-dependency": "ASGI request: no-op async dependency",
    "asgi-okta_bearer": "ASGI request: okta_bearer middleware, repeated token",
    "asgi-okta_bearer+scopes": "ASGI request: okta_bearer + require_scopes, repeated token",
    "asgi-okta_bearer+scopes-plain": (
        "ASGI request: okta_bearer + require_scopes on a plain APIRoute, repeated token"
    ),
    "introspection-hit": "IntrospectionVerifier, repeated opaque token (cached answer)",
    "dpop-floor": "DPoP floor: one ES256 proof check (b64, json, key from jwk, verify)",
    "dpop-store": "DPoP floor: one MemoryStore.set_if_absent",
    "dpop-check": "DPoPGuard.check, MemoryStore (whole DPoP side)",
}
#: Modes counted only when this commit's middleware takes ``dpop=`` (the DPoP wiring).
DPOP_ASGI = {
    "asgi-okta_bearer+dpop": (
        "ASGI request: okta_bearer, DPoP (MemoryStore), bound token, fresh proof"
    ),
}
#: The per-verification table, then the DPoP/introspection table, then the ASGI table.
_VERIFY = ("floor", "tuned", "off", "on", "hit", "pyjwt", "sync-off", "sync-on", "sync-hit")
_EXTRA = ("introspection-hit", "dpop-floor", "dpop-store", "dpop-check")
ROOT = Path(__file__).resolve().parent.parent


def _drive(coro: Coroutine[Any, Any, Any]) -> Any:
    try:
        coro.send(None)
    except StopIteration as stop:
        return stop.value
    raise RuntimeError("verify suspended: keys were not cached")


def _asgi_call(kind: str, verifier: Any, token: str, calls: int) -> Callable[[str], object]:
    """One request to the ``kind`` app per call, driven without an event loop."""
    from .apps import build_app
    from .asgi import _headers, _scope

    app = build_app(kind, verifier=verifier)
    headers = _headers(token)
    body = {"type": "http.request", "body": b"", "more_body": False}
    statuses: list[int] = []

    async def receive() -> dict[str, Any]:
        return body

    async def send(message: MutableMapping[str, Any]) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    # Each request gets header bytes of its own, made before counting, as a
    # server parses them anew: no hash of them is cached from a previous request.
    fresh = iter([[(k, bytes(bytearray(v))) for k, v in headers] for _ in range(calls + 1)])

    def call(_: str) -> object:
        return _drive(app(_scope(next(fresh)), receive, send))

    call(token)  # the first request builds the middleware stack: not counted
    if statuses != [200]:
        raise RuntimeError(f"the {kind} app answered {statuses}")
    return call


def _extra_call(
    mode: str, issuer: Any, verifier: Any, calls: int
) -> tuple[Callable[..., object], list[tuple[Any, ...]]]:
    """The DPoP and introspection modes: the function and its per-call arguments."""
    import uuid

    from okta_bearer._dpop.guard import DPoPGuard
    from okta_bearer._dpop.settings import DPoPSettings
    from okta_bearer._store.memory import MemoryStore
    from okta_bearer.testing import DPoPKey, IntrospectionServer

    from .asgi import _headers, _scope
    from .dpop import URL, proof_floor

    if mode == "introspection-hit":
        server = IntrospectionServer(issuer)
        introspection = server.verifier()
        opaque = server.mint_opaque(exp=issuer.claims()["exp"] + 86400)
        _drive_loop(introspection.verify(opaque))
        return (lambda _: _drive(introspection.verify(opaque))), [(None,)] * calls
    key = DPoPKey("ES256")
    bound = issuer.mint(cnf={"jkt": key.jkt}, exp=issuer.claims()["exp"] + 86400)
    proofs = [key.proof("GET", URL, bound) for _ in range(calls)]
    if mode == "dpop-floor":
        return proof_floor, [(p,) for p in proofs]
    store = MemoryStore()
    if mode == "dpop-store":
        keys = [f"dpop:{key.jkt}:{uuid.uuid4()}" for _ in range(calls)]
        return (lambda k: _drive(store.set_if_absent(k, b"1", 65.0))), [(k,) for k in keys]
    raw = _drive_loop(verifier.verify(bound)).raw
    if mode == "dpop-check":
        guard = DPoPGuard(DPoPSettings(store=store))
        scopes = [_scope([*_headers(bound), (b"dpop", p.encode())]) for p in proofs]
        return (lambda sc: _drive(guard.check(sc, "DPoP", bound, raw))), [(sc,) for sc in scopes]
    # asgi-okta_bearer+dpop: whole requests through the middleware with DPoP on.
    from .apps import build_app

    app = build_app("okta_bearer", verifier=verifier, dpop=DPoPSettings(store=store))
    statuses: list[int] = []
    body = {"type": "http.request", "body": b"", "more_body": False}

    async def receive() -> dict[str, Any]:
        return body

    async def send(message: MutableMapping[str, Any]) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    def headers(proof: str) -> list[tuple[bytes, bytes]]:
        return [
            *_headers(bound)[:3],
            (b"authorization", f"DPoP {bound}".encode()),
            (b"dpop", proof.encode()),
        ]

    first = key.proof("GET", URL, bound)
    _drive(app(_scope(headers(first)), receive, send))  # builds the middleware stack
    if statuses != [200]:
        raise RuntimeError(f"the DPoP app answered {statuses}")
    return (lambda h: _drive(app(_scope(h), receive, send))), [(headers(p),) for p in proofs]


def _drive_loop(coro: Coroutine[Any, Any, Any]) -> Any:
    """Run ``coro`` to completion on a loop of its own (set-up only, never counted)."""
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(coro)
    finally:
        loop.close()


def child(mode: str, fixture: str, calls: int) -> None:
    """Run ``calls`` verifications of ``mode`` inside ``starmap`` (under callgrind)."""
    import functools

    import httpx
    import jwt
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    from okta_bearer.testing import LocalIssuer, SigningKey

    from .verify import AUDIENCE, ISSUER, floor_rs256, floor_rs256_tuned

    with open(fixture, encoding="utf-8") as handle:
        spec = json.load(handle)
    private_key = load_pem_private_key(spec["pem"].encode(), password=None)
    public_key: Any = private_key.public_key()
    issuer = LocalIssuer(ISSUER, AUDIENCE)
    issuer.keys = [SigningKey(spec["kid"], "RS256", private_key)]
    tokens: list[str] = spec["tokens"]

    async def prepare() -> tuple[Callable[[str], object], httpx.AsyncClient]:
        client = httpx.AsyncClient(transport=issuer.transport())  # closed by the caller
        verifier = issuer.verifier(token_cache_size=0 if mode.endswith("off") else 64)
        await verifier.verify(tokens[-1])  # keys fetched, outside the count
        if mode.startswith("sync-"):
            verifier.verify_sync(tokens[-1])  # the sync side's keys too
            if mode == "sync-hit":
                verifier.verify_sync(tokens[0])
                return (lambda _: verifier.verify_sync(tokens[0])), client
            return verifier.verify_sync, client
        if mode in _EXTRA or mode in DPOP_ASGI:
            prepared.append(verifier)
            return (lambda _: None), client
        if mode.startswith("asgi-"):
            return _asgi_call(mode[5:], verifier, tokens[0], calls), client
        if mode == "hit":
            await verifier.verify(tokens[0])
            return (lambda _: _drive(verifier.verify(tokens[0]))), client
        if mode in ("off", "on"):
            return (lambda token: _drive(verifier.verify(token))), client
        if mode == "floor":
            return functools.partial(floor_rs256, key=public_key), client
        if mode == "tuned":
            return functools.partial(floor_rs256_tuned, key=public_key), client
        return (
            functools.partial(
                jwt.decode,
                key=public_key,
                algorithms=["RS256"],
                audience=AUDIENCE,
                issuer=ISSUER,
                leeway=30,
            ),
            client,
        )

    prepared: list[Any] = []
    loop = asyncio.new_event_loop()
    fn, client = loop.run_until_complete(prepare())
    arguments: list[tuple[Any, ...]] = [(t,) for t in tokens[:calls]]
    if prepared:
        fn, arguments = _extra_call(mode, issuer, prepared[0], calls)
    deque(starmap(fn, arguments), maxlen=0)
    loop.run_until_complete(client.aclose())
    loop.close()


def _count(mode: str, fixture: str, calls: int) -> int:
    command = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null"]
    command += ["--collect-atstart=no", "--toggle-collect=starmap_next"]
    command += [sys.executable, "-m", "benchmarks.instructions", mode, fixture, str(calls)]
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, env=env)  # noqa: S603
    match = re.search(r"Collected : (\d+)", done.stderr)
    if done.returncode != 0 or match is None:
        raise RuntimeError(done.stderr[-2000:])
    return int(match.group(1))


def run(calls: int = 200) -> str:
    """Count instructions per call for each mode and return the report."""
    if shutil.which("valgrind") is None:
        return "Skipped: valgrind is not installed (Debian: apt-get install valgrind).\n"
    from cryptography.hazmat.primitives import serialization

    from okta_bearer.testing import LocalIssuer

    from ._common import table, verdict
    from .verify import AUDIENCE, ISSUER

    issuer = LocalIssuer(ISSUER, AUDIENCE)
    pem = issuer.signing_key.private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    tokens = [issuer.mint(exp=issuer.claims()["exp"] + 86400) for _ in range(calls + 1)]
    from .dpop import middleware_has_dpop

    modes = {**MODES, **(DPOP_ASGI if middleware_has_dpop() else {})}
    counts: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as folder:
        fixture = os.path.join(folder, "fixture.json")
        with open(fixture, "w", encoding="utf-8") as handle:
            json.dump({"kid": issuer.kid, "pem": pem, "tokens": tokens}, handle)
        # Two at a time: counts do not depend on what else runs.
        with ThreadPoolExecutor(max_workers=2) as pool:
            futures = {mode: pool.submit(_count, mode, fixture, calls) for mode in modes}
            for index, (mode, future) in enumerate(futures.items()):
                counts[mode] = future.result() / calls
                print(f"\r  instructions: {index + 1}/{len(modes)}", end="", file=sys.stderr)
        print(file=sys.stderr)
    if counts["floor"] < 1000:
        return (
            "Skipped: callgrind counted nothing; this Python's libpython has no "
            "'starmap_next' symbol to toggle on (a stripped build).\n"
        )
    floor, pyjwt = counts["floor"], counts["pyjwt"]
    body = [
        [modes[m], f"{counts[m]:,.0f}", f"{counts[m] / floor:.2f}x", f"{pyjwt / counts[m]:.2f}x"]
        for m in _VERIFY
    ]
    unprotected = counts["asgi-unprotected"]
    asgi_body = [
        [modes[m], f"{c:,.0f}", f"{unprotected / c:.2f}x"]
        for m, c in counts.items()
        if m.startswith("asgi-")
    ]
    hit, opaque = counts["hit"], counts["introspection-hit"]
    proof, mark, check = counts["dpop-floor"], counts["dpop-store"], counts["dpop-check"]
    extra_body = [[modes[m], f"{counts[m]:,.0f}"] for m in _EXTRA]
    extra = [
        "DPoP and introspection, per call (same method; DPoP: ES256 proofs, one fresh each):",
        "",
        table(["contender", "instructions/call"], extra_body),
        "",
        f"- cached introspection answer vs cached JWT: {opaque:,.0f} vs {hit:,.0f} instructions "
        f"({opaque / hit:.2f}x) -> {verdict(opaque <= hit * 1.05)} (no more than a cached JWT, "
        "within 5 %)",
        f"- DPoP side of a request: {check:,.0f} instructions vs one proof check + one store "
        f"round trip {proof + mark:,.0f} ({check / (proof + mark):.2f}x)",
    ]
    if "asgi-okta_bearer+dpop" in counts:
        bearer, dpop = counts["asgi-okta_bearer"], counts["asgi-okta_bearer+dpop"]
        extra.append(
            f"- whole request through the middleware: DPoP {dpop:,.0f} vs Bearer {bearer:,.0f}: "
            f"+{dpop - bearer:,.0f} ({(dpop - bearer) / (proof + mark):.2f}x one proof check + "
            "one store round trip)"
        )
    else:
        extra.append("- middleware DPoP row: not counted (this commit's middleware takes no dpop=)")
    return "\n".join(
        [
            f"RS256, {calls} distinct tokens per contender, one process each under callgrind "
            "(PYTHONHASHSEED=0): instructions per call, deterministic.",
            "",
            table(["contender", "instructions/verify", "x floor", "fewer than PyJWT"], body),
            "",
            f"- fresh-token verify: {counts['off'] / floor:.2f}x (cache off), "
            f"{counts['on'] / floor:.2f}x (cache on) the floor's instructions",
            f"- repeated token: {pyjwt / counts['hit']:.0f}x fewer instructions than PyJWT",
            f"- fresh-token verify_sync: {counts['sync-off'] / floor:.2f}x (cache off), "
            f"{counts['sync-on'] / floor:.2f}x (cache on) the floor's instructions "
            "(target 1.3x)",
            "",
            "In-process ASGI requests (FastAPI, GET /api/items, raw ASGI call), per request:",
            "",
            table(
                ["app", "instructions/request", "throughput-equivalent vs unprotected"], asgi_body
            ),
            "",
            f"- the example route (require_scopes) against a do-nothing FastAPI dependency: "
            f"{counts['asgi-okta_bearer+scopes']:,.0f} vs {counts['asgi-noop-dependency']:,.0f} "
            f"-> {verdict(counts['asgi-okta_bearer+scopes'] <= counts['asgi-noop-dependency'])} "
            "(costs no more)",
            "",
            *extra,
            "",
        ]
    )


def main() -> None:
    """Child entry point: ``python -m benchmarks.instructions MODE FIXTURE CALLS``."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.instructions")
    parser.add_argument("mode", choices=sorted({**MODES, **DPOP_ASGI}))
    parser.add_argument("fixture")
    parser.add_argument("calls", type=int)
    args = parser.parse_args()
    child(args.mode, args.fixture, args.calls)


if __name__ == "__main__":
    main()
