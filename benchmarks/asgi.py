"""In-process ASGI: requests per second through each app variant, driven by a raw ASGI call loop.

No server and no HTTP client: each request is one ``await app(scope, receive,
send)`` with a fresh scope dict, a ``receive`` that returns an empty body and
a ``send`` that keeps the status.  This measures the app and the middleware,
nothing else, so the middleware's cost is as visible as it can be.
"""

from __future__ import annotations

from typing import Any

from okta_bearer.testing import LocalIssuer

from ._common import Batch, Contender, clock, interleave, ratio, table, verdict
from .apps import PATH, build_app
from .verify import AUDIENCE, ISSUER

_BODY: dict[str, Any] = {"type": "http.request", "body": b"", "more_body": False}


def _scope(headers: list[tuple[bytes, bytes]]) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": PATH,
        "raw_path": PATH.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
        "state": {},
    }


def asgi_batch(app: Any, header_sets: list[list[tuple[bytes, bytes]]]) -> Batch:
    """A batch of ``n`` sequential requests, request ``i`` sending ``header_sets[i]``."""
    status = 0

    async def receive() -> dict[str, Any]:
        return _BODY

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    async def batch(n: int) -> float:
        nonlocal status
        # Header bytes of their own per request, made before the clock starts,
        # as a server parses them anew (no hash cached from an earlier batch).
        chosen = [[(k, bytes(bytearray(v))) for k, v in h] for h in header_sets[:n]]
        start = clock()
        for headers in chosen:
            await app(_scope(headers), receive, send)
        elapsed = clock() - start
        if status != 200:
            raise SystemExit(f"the benchmark app answered {status}, not 200")
        return elapsed

    return batch


def _headers(token: str) -> list[tuple[bytes, bytes]]:
    return [
        (b"host", b"127.0.0.1:8000"),
        (b"user-agent", b"bench"),
        (b"accept", b"*/*"),
        (b"authorization", f"Bearer {token}".encode()),
    ]


async def run(*, rounds: int, calls: int) -> str:
    """Run the in-process section and return its report."""
    issuer = LocalIssuer(ISSUER, AUDIENCE)
    tokens = [issuer.mint() for _ in range(calls)]
    public_key = issuer.signing_key.private_key.public_key()
    repeated = [_headers(tokens[0])] * calls
    fresh = [_headers(t) for t in tokens]
    anonymous = [_headers(tokens[0])[:3]] * calls

    cached = issuer.verifier()
    uncached = issuer.verifier(token_cache_size=0)
    scoped = issuer.verifier()
    try:
        for verifier in (cached, uncached, scoped):
            await verifier.verify(tokens[0])  # keys fetched before timing

        def app(kind: str, **options: Any) -> Any:
            return build_app(
                kind, public_key=public_key, issuer=ISSUER, audience=AUDIENCE, **options
            )

        rows = [
            Contender("unprotected route", asgi_batch(app("unprotected"), anonymous)),
            Contender(
                "no-op async dependency (no verification)",
                asgi_batch(app("noop-dependency"), anonymous),
            ),
            Contender(
                "no-op sync dependency (threadpool)",
                asgi_batch(app("noop-sync-dependency"), anonymous),
            ),
            Contender(
                "okta_bearer middleware, repeated token",
                asgi_batch(app("okta_bearer", verifier=cached), repeated),
            ),
            Contender(
                "okta_bearer + require_scopes (the example route), repeated token",
                asgi_batch(app("okta_bearer+scopes", verifier=scoped), repeated),
            ),
            Contender(
                "okta_bearer + require_scopes on a plain APIRoute, repeated token",
                asgi_batch(app("okta_bearer+scopes-plain", verifier=scoped), repeated),
            ),
            Contender(
                "okta_bearer middleware, fresh tokens (cache off)",
                asgi_batch(app("okta_bearer", verifier=uncached), fresh),
            ),
            Contender(
                "PyJWT jwt.decode in an async dependency",
                asgi_batch(app("pyjwt-dependency"), fresh),
            ),
        ]
        await interleave(rows, rounds=rounds, calls=calls, progress="asgi")
    finally:
        for verifier in (cached, uncached, scoped):
            await verifier.aclose()

    base = rows[0].median
    body = [
        [c.name, f"{1 / c.median:,.0f}", f"{c.median * 1e6:.1f}", ratio(base, c.median)]
        for c in rows
    ]
    noop = rows[1].median
    hit = rows[3].median
    example = rows[4].median
    lines = [
        f"Raw ASGI call loop (no server, no HTTP client), FastAPI route GET {PATH}; "
        f"{rounds} interleaved rounds x {calls} requests, medians.",
        "",
        table(["app", "req/s", "us/request", "throughput vs unprotected"], body),
        "",
        "Target: in-process with a repeated token >= 0.80x the unprotected route's throughput:",
        f"- middleware only: {base / hit:.2f}x -> {verdict(base / hit >= 0.80)}",
        f"- middleware + require_scopes (the example route): {base / example:.2f}x "
        f"-> {verdict(base / example >= 0.80)}",
        f"- the example route against a do-nothing FastAPI dependency: {noop / example:.2f}x "
        f"its throughput -> {verdict(example <= noop)} (costs no more)",
        "",
    ]
    return "\n".join(lines)
