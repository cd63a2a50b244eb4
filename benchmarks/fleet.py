"""Fleet key sharing: four verifiers (four workers of one API) start cold, with or without a store.

Each of four ``TokenVerifier``s receives 50 concurrent requests with distinct
valid tokens at the same moment, while the issuer takes 50 ms per request.
Without a shared store each verifier fetches discovery and the JWKS itself
(4 + 4); sharing a store (``store=``), one fetches and the others adopt its
copy (1 + 1).  Counted at the issuer (``LocalIssuer.count``), not by the
verifiers.  The four verifiers live in one process here; tests/fleet proves
the same across four uvicorn worker processes.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx

from okta_bearer._store.memory import MemoryStore, Store
from okta_bearer.testing import LocalIssuer

from ._common import table, verdict
from .verify import AUDIENCE, ISSUER

FETCH_DELAY = 0.05
WORKERS = 4
EACH = 50


def _slow(issuer: LocalIssuer) -> httpx.MockTransport:
    async def handler(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(FETCH_DELAY)
        return issuer.handler(request)

    return httpx.MockTransport(handler)


async def _cold(store_name: str, store: Store | None) -> list[str]:
    issuer = LocalIssuer(ISSUER, AUDIENCE)
    options: dict[str, Any] = {"transport": _slow(issuer)}
    if store is not None:
        options["store"] = store
    verifiers = [issuer.verifier(**options) for _ in range(WORKERS)]
    tokens = [[issuer.mint() for _ in range(EACH)] for _ in verifiers]
    started = time.perf_counter()
    results = await asyncio.gather(
        *(v.verify(t) for v, batch in zip(verifiers, tokens, strict=True) for t in batch),
        return_exceptions=True,
    )
    elapsed = time.perf_counter() - started
    for verifier in verifiers:
        await verifier.aclose()
    ok = sum(1 for r in results if not isinstance(r, BaseException))
    discovery = sum(1 for r in issuer.requests if "/.well-known/" in r.url.path)
    jwks = issuer.count("/v1/keys")
    expected = (WORKERS, WORKERS) if store is None else (1, 1)
    return [
        store_name,
        f"{ok}/{WORKERS * EACH}",
        str(discovery),
        str(jwks),
        f"{expected[0]} + {expected[1]}",
        f"{elapsed * 1e3:.0f}",
        verdict((discovery, jwks) == expected and ok == WORKERS * EACH),
    ]


async def run(*, redis_url: str | None) -> str:
    """Run the fleet section and return its report."""
    from okta_bearer.redis_store import RedisStore

    rows = [await _cold("no store (each verifier on its own)", None)]
    memory = MemoryStore()
    rows.append(await _cold("one MemoryStore shared in-process", memory))
    await memory.aclose()
    if redis_url is not None:
        redis = RedisStore(redis_url, prefix=f"bench-fleet-{time.time_ns()}:")
        rows.append(await _cold("RedisStore (real redis-server)", redis))
        await redis.aclose()
    lines = [
        f"Cold start: {WORKERS} verifiers x {EACH} concurrent requests (distinct valid tokens), "
        f"{FETCH_DELAY * 1e3:.0f} ms per issuer request; fetches counted at the issuer:",
        "",
        table(
            [
                "shared store",
                "verified",
                "discovery fetches",
                "JWKS fetches",
                "expected",
                "all answered (ms)",
                "",
            ],
            rows,
        ),
        "",
    ]
    if redis_url is None:
        lines.append("RedisStore row: not measured (no redis-server).")
    return "\n".join(lines)
