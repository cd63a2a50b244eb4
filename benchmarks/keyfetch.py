"""Key fetching under load: a cold start with 200 concurrent requests, and a flood of random kids.

The issuer answers through an in-memory transport that takes 50 ms per
request, so concurrent callers really overlap a fetch in flight.  Counts come
from ``verifier.keys.fetch_counts`` (and the issuer's own request log).
"""

from __future__ import annotations

import asyncio
import base64
import json
import secrets
import statistics
import time

import httpx

from okta_bearer import InvalidToken, KeyPolicy, KeysUnavailable
from okta_bearer.testing import LocalIssuer

from ._common import table, verdict
from .verify import AUDIENCE, ISSUER

FETCH_DELAY = 0.05


def _slow_transport(issuer: LocalIssuer) -> httpx.MockTransport:
    async def handler(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(FETCH_DELAY)
        return issuer.handler(request)

    return httpx.MockTransport(handler)


def _with_kid(token: str, kid: str) -> str:
    """``token`` with another kid in its header (the signature is never reached)."""
    header = json.dumps({"alg": "RS256", "kid": kid}).encode()
    encoded = base64.urlsafe_b64encode(header).rstrip(b"=").decode()
    return encoded + token[token.index(".") :]


async def _loop_lag(stop: asyncio.Event, gaps: list[tuple[float, float]]) -> None:
    last = time.perf_counter()
    while not stop.is_set():
        await asyncio.sleep(0.001)
        now = time.perf_counter()
        gaps.append((now, now - last))
        last = now


async def _cold_start(issuer: LocalIssuer, concurrent: int) -> list[str]:
    tokens = [issuer.mint() for _ in range(concurrent)]
    async with issuer.verifier(transport=_slow_transport(issuer)) as verifier:
        stop = asyncio.Event()
        gaps: list[tuple[float, float]] = []
        first_done: list[float] = []
        ticker = asyncio.create_task(_loop_lag(stop, gaps))
        started = time.perf_counter()

        async def one(token: str) -> object:
            claims = await verifier.verify(token)
            first_done.append(time.perf_counter())
            return claims

        tasks = [asyncio.ensure_future(one(t)) for t in tokens]
        await asyncio.sleep(0)  # every request has parsed its token and is waiting for keys
        all_waiting = time.perf_counter()
        results = await asyncio.gather(*tasks, return_exceptions=True)
        elapsed = time.perf_counter() - started
        stop.set()
        await ticker
        await verifier.aclose()
    ok = sum(1 for r in results if not isinstance(r, BaseException))
    counts = verifier.keys.fetch_counts
    waiting = [gap for at, gap in gaps if at - gap >= all_waiting and at <= min(first_done)]
    met = counts == {"discovery": 1, "jwks": 1} and ok == concurrent
    return [
        f"Cold start, {concurrent} concurrent requests (distinct valid tokens), "
        f"{FETCH_DELAY * 1e3:.0f} ms per issuer request:",
        f"- fetch_counts: discovery {counts['discovery']}, jwks {counts['jwks']}; "
        f"verified {ok}/{concurrent}; first answer after {(min(first_done) - started) * 1e3:.0f} "
        f"ms, all {concurrent} after {elapsed * 1e3:.0f} ms (the signature checks themselves)",
        f"- no polling, no blocked loop: while all {concurrent} waited for the one fetch, a 1 ms "
        f"ticker ticked {len(waiting)} times (longest gap {max(waiting, default=0) * 1e3:.1f} ms)",
        f"- target: exactly 1 discovery + 1 JWKS fetch, waiters share it -> {verdict(met)}",
        "",
    ]


async def _flood(issuer: LocalIssuer, flood: int, cooldown: float = 30.0) -> list[str]:
    valid = [issuer.mint() for _ in range(100)]
    base_token = issuer.mint()
    attacks = [_with_kid(base_token, secrets.token_urlsafe(12)) for _ in range(flood)]
    offset = [0.0]

    def clock() -> float:
        return time.time() + offset[0]

    async with issuer.verifier(
        transport=_slow_transport(issuer),
        token_cache_size=0,
        clock=clock,
        keys=KeyPolicy(unknown_kid_interval=cooldown),
    ) as verifier:
        await verifier.verify(base_token)  # warm: keys known
        before = dict(verifier.keys.fetch_counts)
        done = asyncio.Event()

        async def legit(latencies: list[float], count: int = 0) -> None:
            index = 0
            while not done.is_set() or index < max(count, len(valid)):
                start = time.perf_counter()
                await verifier.verify(valid[index % len(valid)])
                latencies.append(time.perf_counter() - start)
                index += 1
                await asyncio.sleep(0)

        outcomes = {"unknown_kid (401)": 0, "keys_unavailable (503)": 0, "other": 0}

        async def attacker() -> None:
            for index, token in enumerate(attacks):
                if index % (flood // 2) == 0:
                    offset[0] += cooldown + 1  # a new cooldown window (twice in all)
                try:
                    await verifier.verify(token)
                except InvalidToken as error:
                    key = "unknown_kid (401)" if error.reason == "unknown_kid" else "other"
                    outcomes[key] += 1
                except KeysUnavailable:
                    outcomes["keys_unavailable (503)"] += 1
                await asyncio.sleep(0)
            done.set()

        during: list[float] = []
        started = time.perf_counter()
        await asyncio.gather(attacker(), legit(during))
        elapsed = time.perf_counter() - started
        quiet: list[float] = []  # as many valid requests again, with no flood
        await legit(quiet, len(during))
        after = verifier.keys.fetch_counts
        await verifier.aclose()

    def row(name: str, values: list[float]) -> list[str]:
        ordered = sorted(values)
        p99 = ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]
        return [
            name,
            str(len(values)),
            f"{statistics.median(values) * 1e6:.0f}",
            f"{p99 * 1e6:.0f}",
        ]

    refetches = after["jwks"] - before["jwks"]
    met = refetches <= 2 and after["discovery"] == before["discovery"]
    return [
        f"Random-kid flood: {flood} tokens with random kids over 2 cooldown windows "
        f"({cooldown:g} s each, crossed with an injected clock) in {elapsed:.2f} s, while "
        "another task verifies valid tokens (cache off) without pause:",
        f"- JWKS refetches caused: {refetches}; discovery refetches: "
        f"{after['discovery'] - before['discovery']}; outcomes: "
        + ", ".join(f"{k} {v}" for k, v in outcomes.items()),
        "",
        table(
            ["valid-token verify", "requests", "median us", "p99 us"],
            [row("no flood", quiet), row("during the flood", during)],
        ),
        "",
        f"- target: at most 1 refetch per cooldown window -> {verdict(met)}",
        "",
    ]


async def run(*, concurrent: int = 200, flood: int = 1000) -> str:
    """Run the key-fetching section and return its report."""
    issuer = LocalIssuer(ISSUER, AUDIENCE)
    lines = await _cold_start(issuer, concurrent)
    lines += await _flood(issuer, flood)
    return "\n".join(lines)
