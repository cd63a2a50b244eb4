"""Introspection (RFC 7662): a cached answer against a cached JWT, a cold one, and single-flight.

The issuer is the testing kit's :class:`~okta_bearer.testing.IntrospectionServer`
(``/v1/introspect`` in front of a ``LocalIssuer``) behind an in-memory httpx
transport, so a "round trip" here is httpx's request machinery plus the
server's answer in the same process, no network.  Rows:

* a JWT's verified-token cache hit (``TokenVerifier``), the reference;
* an opaque token whose answer is cached in the verifier's own LRU (the
  common case: the same token on its next request);
* an opaque token answered by the shared store only (another worker asked
  first; this process's LRU has never seen it): one ``GET`` in Redis;
* a cold opaque token: one introspection request (the counts are checked),
  with the default in-memory store and with a real Redis (lease, publish).

Then N concurrent requests carrying one new opaque token, with the endpoint
taking 50 ms, must cause one introspection call: in one verifier, and in four
verifiers sharing a Redis store (four workers of one API).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx

from okta_bearer import IntrospectionVerifier
from okta_bearer._store.memory import Store
from okta_bearer.testing import IntrospectionServer, LocalIssuer

from ._common import Contender, Timed, interleave, table, verdict
from .verify import AUDIENCE, ISSUER

FETCH_DELAY = 0.05
#: The largest max_rate: the flood budget is measured in introspection_flood.py.
UNBOUNDED = 1_000_000


def _checked(verifier: Any, kind: str, expected: int) -> None:
    got = verifier.fetch_counts["introspection"]
    if got != expected:
        raise SystemExit(f"{kind}: {got} introspection calls, expected {expected}")


def _rows(
    issuer: LocalIssuer, server: IntrospectionServer, stores: dict[str, Store]
) -> tuple[list[tuple[str, Timed]], list[Any]]:
    exp = int(time.time()) + 86400
    jwt_token = issuer.mint(exp=exp)
    opaque = server.mint_opaque(exp=exp)
    jwt_verifier = issuer.verifier()
    cached = server.verifier()
    closers: list[Any] = [jwt_verifier, cached]

    async def repeat(fn: Any, token: str, items: list[None]) -> None:
        for _ in items:
            await fn(token)

    rows = [
        (
            "JWT, repeated token (TokenVerifier cache hit)",
            Timed(
                lambda n: [None] * n,
                lambda items: repeat(jwt_verifier.verify, jwt_token, items),
            ),
        ),
        (
            "opaque, repeated token (answer cached in this process)",
            Timed(lambda n: [None] * n, lambda items: repeat(cached.verify, opaque, items)),
        ),
    ]
    for name, store in stores.items():
        rows.append(_cold_row(server, name, store, exp, closers))
        if name != "MemoryStore":
            rows.append(_shared_row(server, name, store, exp, closers))
    return rows, closers


def _cold_row(
    server: IntrospectionServer, name: str, store: Store, exp: int, closers: list[Any]
) -> tuple[str, Timed]:
    """Each call a new opaque token: exactly one introspection request each (checked)."""
    # The memory row uses the verifier's own default store, as users get it.
    # max_rate out of the way: these rows time a call, not the flood budget.
    cold = (
        server.verifier(max_rate=UNBOUNDED)
        if name == "MemoryStore"
        else server.verifier(store=store, max_rate=UNBOUNDED)
    )
    closers.append(cold)
    before = [0]

    def fresh(n: int) -> list[str]:
        before[0] = cold.fetch_counts["introspection"]
        return [server.mint_opaque(exp=exp) for _ in range(n)]

    async def verify_cold(tokens: list[str]) -> None:
        for token in tokens:
            await cold.verify(token)
        _checked(cold, f"cold ({name})", before[0] + len(tokens))

    return f"opaque, cold: one introspection call ({name})", Timed(fresh, verify_cold)


def _shared_row(
    server: IntrospectionServer, name: str, store: Store, exp: int, closers: list[Any]
) -> tuple[str, Timed]:
    """Another worker (same store) introspected the token first; this one has not seen it."""
    first = server.verifier(store=store, max_rate=UNBOUNDED)
    second = server.verifier(store=store, max_rate=UNBOUNDED)
    closers += [first, second]
    before = [0]

    async def shared(n: int) -> list[str]:
        before[0] = second.fetch_counts["introspection"]
        tokens = [server.mint_opaque(exp=exp) for _ in range(n)]
        for token in tokens:
            await first.verify(token)
        return tokens

    async def verify_shared(tokens: list[str]) -> None:
        for token in tokens:
            await second.verify(token)
        _checked(second, "shared-store hit", before[0])

    label = f"opaque, answer in the shared store only ({name}: another worker asked)"
    return label, Timed(shared, verify_shared)


def _slow(server: IntrospectionServer) -> httpx.MockTransport:
    async def handler(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(FETCH_DELAY)
        return server.handler(request)

    return httpx.MockTransport(handler)


async def _single_flight(server: IntrospectionServer, stores: dict[str, Store]) -> list[str]:
    lines = [
        f"N concurrent requests, one new opaque token, the endpoint taking "
        f"{FETCH_DELAY * 1e3:.0f} ms:",
        "",
    ]
    rows = []
    cases: list[tuple[str, int, int, Store | None, int]] = [
        ("one verifier", 1, 200, None, 1),
        ("4 verifiers, no shared store (4 workers without Redis)", 4, 50, None, 4),
    ]
    cases += [(f"4 verifiers sharing {name}", 4, 50, s, 1) for name, s in stores.items()]
    for label, count, each, store, expected in cases:
        options: dict[str, Any] = {"transport": _slow(server), "max_rate": UNBOUNDED}
        if store is not None:
            options["store"] = store
        verifiers = [server.verifier(**options) for _ in range(count)]
        for verifier in verifiers:  # discovery done once each, before the burst
            await verifier.verify(server.mint_opaque())
        token = server.mint_opaque()
        before = server.count("/v1/introspect")
        started = time.perf_counter()
        results = await asyncio.gather(
            *(v.verify(token) for v in verifiers for _ in range(each)), return_exceptions=True
        )
        elapsed = time.perf_counter() - started
        calls = server.count("/v1/introspect") - before
        ok = sum(1 for r in results if not isinstance(r, BaseException))
        for verifier in verifiers:
            await verifier.aclose()
        rows.append(
            [
                label,
                str(count * each),
                f"{ok}/{count * each}",
                str(calls),
                f"{elapsed * 1e3:.0f}",
                str(expected),
                verdict(calls == expected and ok == count * each),
            ]
        )
    lines.append(
        table(
            [
                "case",
                "requests",
                "verified",
                "introspection calls",
                "all answered (ms)",
                "expected",
                "",
            ],
            rows,
        )
    )
    lines.append("")
    return lines


async def run(*, rounds: int, calls: int, redis_url: str | None) -> str:
    """Run the introspection section and return its report."""
    from okta_bearer._store.memory import MemoryStore
    from okta_bearer.redis_store import RedisStore

    issuer = LocalIssuer(ISSUER, AUDIENCE)
    server = IntrospectionServer(issuer)
    stores: dict[str, Store] = {"MemoryStore": MemoryStore()}
    if redis_url is not None:
        stores["RedisStore"] = RedisStore(redis_url)
    rows, closers = _rows(issuer, server, stores)
    try:
        for closer in closers:  # keys and endpoint discovered before timing
            if isinstance(closer, IntrospectionVerifier):
                await closer.verify(server.mint_opaque())
            else:
                await closer.verify(issuer.mint())
        contenders = [Contender(name, timed.batch) for name, timed in rows]
        await interleave(contenders, rounds=rounds, calls=calls, progress="introspection")
    finally:
        for closer in closers:
            await closer.aclose()
    single = await _single_flight(server, {k: v for k, v in stores.items() if k != "MemoryStore"})
    for store in stores.values():
        await store.aclose()
    cpu = {c.name: c.median for c in contenders}
    wall = {name: timed.wall_median for name, timed in rows}
    names = [name for name, _ in rows]
    jwt_hit, opaque_hit = names[0], names[1]
    body = [
        [n, f"{cpu[n] * 1e6:.1f}", f"{wall[n] * 1e6:.1f}", f"{cpu[n] / cpu[jwt_hit]:.2f}x"]
        for n in names
    ]
    lines = [
        f"IntrospectionServer over an in-memory transport; {rounds} interleaved rounds x {calls} "
        "calls, medians (CPU: process time; wall: perf_counter). Cold rows check that each call "
        "made exactly one introspection request; cached rows that they made none.",
        "",
        table(["contender", "us/verify CPU", "us/verify wall", "x cached JWT (CPU)"], body),
        "",
        f"- a cached introspection answer against a cached JWT, timed: "
        f"{cpu[opaque_hit] * 1e6:.1f} vs {cpu[jwt_hit] * 1e6:.1f} us "
        f"({cpu[opaque_hit] / cpu[jwt_hit]:.2f}x); the target is judged by the instruction "
        "counts (callgrind section), which noise cannot move",
        "",
        *single,
    ]
    if redis_url is None:
        lines.append("RedisStore rows: not measured (no redis-server).")
    return "\n".join(lines)
