"""Sustained load with nothing lost: the example API under a hostile mix, on loopback.

Three parts, all on 127.0.0.1:

* **The API**: ``examples/api.py`` (FastAPI + ``BearerAuthMiddleware``), run by
  uvicorn in a child process (``loadtest/app.py``), on a socket bound here and
  handed over with ``--fd`` (no port race).
* **The key server**: a real HTTP server in this process serving a
  :class:`~okta_bearer.testing.LocalIssuer`'s discovery document and JWKS
  (``Cache-Control: max-age=40``).  During the run it publishes new keys,
  refuses connections for 10 s, answers 500 for 10 s, and retires a key.
* **The load generator**: an httpx client with bounded concurrency, bounded in
  time and in count, sending ``GET /api/whoami`` with a fresh, distinct token
  each time: valid, expired, forged (attacker signature under a trusted kid, or a
  tampered payload) or signed under an unknown kid.

Rotation is done the way Okta does it: a new key is published first and
signs tokens only once the key server has served it (that is, once the API has
fetched it).  The verdict, per class of token:

=============  =====================  ==========================================
class          expected               why
=============  =====================  ==========================================
valid          200                    nothing lost, outages included
expired        401 invalid_token
forged         401 invalid_token
unknown_kid    401, or 503 + Retry-   an unknown kid seen while the key server
               After                  is down may be a key the API could not
                                      load: documented 503 (SECURITY.md)
=============  =====================  ==========================================

Anything else (a 500, a 503 for a valid token, a missing challenge) is a
violation.  The uvicorn process's RSS is sampled from ``/proc`` every second;
the verified-token cache is bounded, so RSS must stay flat once warm although
every token is distinct.  The API's log is searched for token material.

Run (exit status 0 only if nothing was lost and memory stayed flat)::

    .venv/bin/python loadtest/run.py --duration 60
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import random
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from cryptography.hazmat.primitives import serialization

from okta_bearer.testing import LocalIssuer, SigningKey

HERE = Path(__file__).resolve().parent
AUDIENCE = "api://default"
CLASSES = ("valid", "expired", "forged", "unknown_kid")
WEIGHTS = (0.55, 0.15, 0.15, 0.15)
EXPECTED: dict[str, frozenset[int]] = {
    "valid": frozenset({200}),
    "expired": frozenset({401}),
    "forged": frozenset({401}),
    "unknown_kid": frozenset({401, 503}),
}
#: Chooses the token mix (not security-relevant randomness; tokens use `secrets`).
MIX = random.Random()  # noqa: S311
#: RSS growth (MiB) allowed between the end of warm-up and the end of the run.
RSS_SLACK_MIB = 16.0


# -- the key server ---------------------------------------------------------------


class KeyServer:
    """Discovery + JWKS of a LocalIssuer over real HTTP/1.1, with outages on demand."""

    def __init__(self) -> None:
        self.port = 0
        self.issuer: LocalIssuer
        self.mode = "up"  # "up", "refusing" (listener closed) or "error" (HTTP 500)
        self._server: asyncio.Server | None = None
        self.served: Counter[str] = Counter()
        self.kids_served: set[str] = set()
        #: Set each time a JWKS is served.
        self.jwks_served = asyncio.Event()

    async def start(self) -> None:
        """Bind (a free loopback port the first time, then the same one) and serve."""
        self._server = await asyncio.start_server(
            self._handle, "127.0.0.1", self.port, reuse_address=True
        )
        self.port = self._server.sockets[0].getsockname()[1]
        if not hasattr(self, "issuer"):
            self.issuer = LocalIssuer(
                f"http://127.0.0.1:{self.port}/oauth2/default", AUDIENCE, keys_max_age=40
            )

    async def refuse(self) -> None:
        """Go down: close the listener, so connections are refused."""
        self.mode = "refusing"
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def error(self) -> None:
        """Stay reachable but answer every request with 500."""
        if self._server is None:
            await self.start()
        self.mode = "error"

    async def up(self) -> None:
        """Serve normally again (on the same port)."""
        if self._server is None:
            await self.start()
        self.mode = "up"

    async def stop(self) -> None:
        """Shut down for good."""
        await self.refuse()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
            method, target, _ = head.split(b"\r\n", 1)[0].decode("latin-1").split(" ", 2)
            if self.mode == "error":
                self.served["500"] += 1
                status, body, headers = 500, b'{"errorCode":"E0000009"}', {}
            else:
                request = httpx.Request(method, f"http://127.0.0.1:{self.port}{target}")
                response = self.issuer.handler(request)
                status, body = response.status_code, response.content
                headers = {"cache-control": response.headers.get("cache-control", "no-store")}
                if target.endswith("/v1/keys"):
                    self.served["jwks"] += 1
                    self.kids_served.update(k["kid"] for k in json.loads(body)["keys"])
                    self.jwks_served.set()
                else:
                    self.served["discovery" if "well-known" in target else "other"] += 1
            lines = [f"HTTP/1.1 {status} X", "content-type: application/json"]
            lines += [f"{k}: {v}" for k, v in headers.items()]
            lines += [f"content-length: {len(body)}", "connection: close", "", ""]
            writer.write("\r\n".join(lines).encode() + body)
            await writer.drain()
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError, ValueError):
            pass
        except ConnectionError:
            pass
        finally:
            writer.close()


# -- tokens -------------------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _mint_batch(issuer_url: str, kid: str, pem: bytes, kind: str, count: int) -> list[str]:
    """Mint ``count`` distinct valid or expired tokens (in a worker process)."""
    private = serialization.load_pem_private_key(pem, password=None)
    key = SigningKey(kid, "RS256", private)
    issuer = LocalIssuer(issuer_url, AUDIENCE)
    now = int(time.time())
    if kind == "valid":
        return [issuer.mint(key=key, scp=["items:read"]) for _ in range(count)]
    return [issuer.mint(key=key, iat=now - 7200, exp=now - 3600) for _ in range(count)]


@dataclass
class Minter:
    """Hands out a fresh, distinct token of each class, signed with the current key.

    RSA signing costs the generator ~1.5 ms per token, more than the API spends
    verifying one, so valid and expired tokens are minted before the timed run
    on every core (pools per key); a pool that runs dry falls back to minting
    on the spot.  Forged and unknown-kid tokens need no private key.
    """

    issuer: LocalIssuer
    current: SigningKey
    upcoming: SigningKey
    pools: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    minted_live: int = 0

    def premint(self, rate_hint: float, duration: float) -> None:
        """Fill the pools for the current key (first quarter of the run) and the next one."""
        plan = []
        for key, seconds in ((self.current, duration / 4), (self.upcoming, duration)):
            pem = key.private_key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
            for kind, share in (("valid", WEIGHTS[0]), ("expired", WEIGHTS[1])):
                total = int(rate_hint * seconds * share * 1.2)
                for offset in range(0, total, 1000):
                    plan.append((key.kid, pem, kind, min(1000, total - offset)))
        workers = os.cpu_count() or 1
        with ProcessPoolExecutor(max_workers=workers) as pool:
            futures = [
                (kid, kind, pool.submit(_mint_batch, self.issuer.issuer, kid, pem, kind, n))
                for kid, pem, kind, n in plan
            ]
            for kid, kind, future in futures:
                self.pools.setdefault((kind, kid), []).extend(future.result())

    def _signed(self, kind: str) -> str:
        pool = self.pools.get((kind, self.current.kid))
        if pool:
            return pool.pop()
        self.minted_live += 1
        if kind == "valid":
            return self.issuer.mint(key=self.current, scp=["items:read"])
        now = int(time.time())
        return self.issuer.mint(key=self.current, iat=now - 7200, exp=now - 3600)

    def make(self, kind: str) -> str:
        """A token of class ``kind``."""
        if kind in ("valid", "expired"):
            return self._signed(kind)
        header: dict[str, str] = {"alg": "RS256"}
        if kind == "unknown_kid":
            header["kid"] = secrets.token_urlsafe(9)
        elif MIX.random() < 0.5:
            # Tampered: a genuine signature over claims edited afterwards (scope escalation).
            head, _, sig = self._signed("valid").split(".")
            claims = self.issuer.claims(scp=["items:read", "items:write", "admin"])
            return f"{head}.{_b64(json.dumps(claims).encode())}.{sig}"
        else:
            # An attacker's signature (any 256 bytes not made by the issuer) under a trusted kid.
            header["kid"] = self.current.kid
        claims_segment = _b64(json.dumps(self.issuer.claims()).encode())
        head = _b64(json.dumps(header).encode())
        return f"{head}.{claims_segment}.{_b64(secrets.token_bytes(256))}"


# -- the API process ----------------------------------------------------------------


def rss_mib(pid: int) -> float:
    """Resident set size of ``pid`` in MiB, from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def start_api(
    issuer: str, log_path: Path, cache_size: int
) -> tuple[subprocess.Popen[bytes], int, socket.socket]:
    """Start uvicorn on a socket bound here; return the process and its port."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(1024)
    port = sock.getsockname()[1]
    env = {
        **os.environ,
        "LOADTEST_ISSUER": issuer,
        "LOADTEST_AUDIENCE": AUDIENCE,
        "LOADTEST_TOKEN_CACHE_SIZE": str(cache_size),
    }
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "--factory",
        "app:build",
        "--app-dir",
        str(HERE),
        "--fd",
        str(sock.fileno()),
        "--no-access-log",
        "--log-level",
        "warning",
    ]
    with log_path.open("wb") as log:
        process = subprocess.Popen(  # noqa: S603 - a fixed argv built above
            command, stdout=log, stderr=subprocess.STDOUT, env=env, pass_fds=(sock.fileno(),)
        )
    return process, port, sock


async def wait_ready(client: httpx.AsyncClient, process: subprocess.Popen[bytes]) -> None:
    """Poll the public route until the API answers (generous: 60 s)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("the API process exited during start-up")
        try:
            if (await client.get("/api/public")).status_code == 200:
                return
        except httpx.TransportError:
            pass
        await asyncio.sleep(0.2)
    raise RuntimeError("the API did not start within 60 s")


# -- the run -------------------------------------------------------------------------


@dataclass
class Results:
    """Counts by class and status, violations, events and RSS samples."""

    counts: Counter[tuple[str, int]] = field(default_factory=Counter)
    violations: list[str] = field(default_factory=list)
    events: list[str] = field(default_factory=list)
    #: (seconds into the run, RSS MiB, valid tokens answered so far)
    rss: list[tuple[float, float, int]] = field(default_factory=list)
    sampled_tokens: list[str] = field(default_factory=list)
    sent: int = 0

    def record(self, kind: str, token: str, response: httpx.Response) -> None:
        status = response.status_code
        self.counts[(kind, status)] += 1
        problem = None
        if status not in EXPECTED[kind]:
            detail = response.headers.get("www-authenticate", "") or response.text[:100]
            problem = f"{kind} token answered {status} ({detail})"
        elif status == 401 and 'error="invalid_token"' not in response.headers.get(
            "www-authenticate", ""
        ):
            problem = f"{kind} token: 401 without an invalid_token challenge"
        elif status == 503 and not response.headers.get("retry-after", "").isdigit():
            problem = f"{kind} token: 503 without Retry-After"
        elif token in response.text:
            problem = f"{kind} token echoed in the response"
        if problem and len(self.violations) < 50:
            self.violations.append(problem)
        elif problem:
            self.violations.append("...")


async def schedule(
    server: KeyServer, minter: Minter, results: Results, start: float, duration: float
) -> None:
    """Rotate keys and take the key server down and up, at fixed fractions of the run."""

    def log(event: str) -> None:
        results.events.append(f"t={time.monotonic() - start:5.1f}s  {event}")

    async def at(fraction: float) -> None:
        await asyncio.sleep(max(0.0, start + fraction * duration - time.monotonic()))

    old_key, new_key = minter.current, minter.upcoming
    await at(5 / 60)
    server.issuer.keys = [*server.issuer.keys, new_key]
    log(f"key server publishes a new key {new_key.kid} (not signing yet)")

    async def switch_when_served() -> None:
        while new_key.kid not in server.kids_served:
            server.jwks_served.clear()
            await server.jwks_served.wait()
        minter.current = new_key
        log(f"JWKS with {new_key.kid} served; valid tokens now signed with it")

    switcher = asyncio.create_task(switch_when_served())
    try:
        await outages(server, minter, old_key, new_key, log, at)
    finally:
        if not switcher.done():
            switcher.cancel()
            log("the new key was never served; valid tokens kept the old key")


async def outages(
    server: KeyServer,
    minter: Minter,
    old_key: SigningKey,
    new_key: SigningKey,
    log: Callable[[str], None],
    at: Callable[[float], Awaitable[None]],
) -> None:
    """The second part of the schedule: two outages, a retirement, another new key."""
    await at(15 / 60)
    await server.refuse()
    log("key server DOWN (connections refused)")
    await at(25 / 60)
    await server.up()
    log("key server UP")
    await at(35 / 60)
    await server.error()
    log("key server answers HTTP 500 to everything")
    await at(45 / 60)
    await server.up()
    log("key server UP")
    if minter.current is new_key:
        server.issuer.keys = [k for k in server.issuer.keys if k.kid != old_key.kid]
        log(f"old key {old_key.kid} removed from the JWKS")
    await at(50 / 60)
    newest = server.issuer.rotate(keep_old=True)
    log(f"key server publishes another key {newest.kid}")


async def run(
    duration: float, max_requests: int, concurrency: int, rate_hint: float, cache_size: int
) -> int:
    """Run the load and print the summary; return the exit status."""
    server = KeyServer()
    await server.start()
    minter = Minter(server.issuer, server.issuer.signing_key, SigningKey.generate("RS256"))
    began = time.monotonic()
    minter.premint(rate_hint, duration)
    print(
        f"pre-minted {sum(len(p) for p in minter.pools.values())} signed tokens "
        f"in {time.monotonic() - began:.1f} s",
        flush=True,
    )
    results = Results()
    with tempfile.TemporaryDirectory() as tmp:
        log_path = Path(tmp) / "api.log"
        process, port, sock = start_api(server.issuer.issuer, log_path, cache_size)
        limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        try:
            async with httpx.AsyncClient(
                base_url=f"http://127.0.0.1:{port}", limits=limits, timeout=30
            ) as client:
                await wait_ready(client, process)
                # One valid request warms the key cache, as any first request would.
                warm = await client.get(
                    "/api/whoami", headers={"authorization": f"Bearer {minter.make('valid')}"}
                )
                if warm.status_code != 200:
                    raise RuntimeError(f"warm-up request answered {warm.status_code}")
                rss_start = rss_mib(process.pid)
                start = time.monotonic()
                deadline = start + duration
                events = asyncio.create_task(schedule(server, minter, results, start, duration))

                async def sampler() -> None:
                    while True:
                        valid = results.counts[("valid", 200)]
                        results.rss.append((time.monotonic() - start, rss_mib(process.pid), valid))
                        await asyncio.sleep(1)

                sampling = asyncio.create_task(sampler())

                async def worker() -> None:
                    while time.monotonic() < deadline and results.sent < max_requests:
                        results.sent += 1
                        kind = MIX.choices(CLASSES, WEIGHTS)[0]
                        token = minter.make(kind)
                        if results.sent % 97 == 0:
                            results.sampled_tokens.append(token)
                        response = await client.get(
                            "/api/whoami", headers={"authorization": f"Bearer {token}"}
                        )
                        results.record(kind, token, response)

                await asyncio.gather(*(worker() for _ in range(concurrency)))
                elapsed = time.monotonic() - start
                sampling.cancel()
                events.cancel()
                rss_end = rss_mib(process.pid)
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            sock.close()
            await server.stop()
        api_log = log_path.read_text(errors="replace")
    return report(
        results, server, elapsed, rss_start, rss_end, api_log, minter.minted_live, cache_size
    )


def report(
    results: Results,
    server: KeyServer,
    elapsed: float,
    rss_start: float,
    rss_end: float,
    api_log: str,
    minter_live: int,
    cache_size: int,
) -> int:
    """Print the summary table; return 0 only if nothing was lost and memory stayed flat."""
    statuses = sorted({status for _, status in results.counts})
    header = f"{'class':<12}{'sent':>9}" + "".join(f"{s:>9}" for s in statuses)
    print(header)
    print("-" * len(header))
    for kind in (*CLASSES, "total"):
        row = {
            s: sum(n for (k, st), n in results.counts.items() if st == s and kind in (k, "total"))
            for s in statuses
        }
        print(f"{kind:<12}{sum(row.values()):>9}" + "".join(f"{row[s]:>9}" for s in statuses))
    total = sum(results.counts.values())
    print(f"\n{total} requests in {elapsed:.1f} s ({total / elapsed:.0f}/s)")
    served = ", ".join(f"{k} {v}" for k, v in sorted(server.served.items()))
    print(f"key server answered: {served}")
    for event in results.events:
        print(f"  {event}")

    # Warm = the verified-token cache (--token-cache-size entries) is full: from
    # then on every new valid token evicts an old one.
    warm = [(t, rss) for t, rss, valid in results.rss if valid >= cache_size * 1.1]
    rss_max = max((rss for _, rss, _ in results.rss), default=rss_end)
    if warm:
        warm_at, rss_warm = warm[0]
        print(
            f"\nAPI RSS (MiB): start {rss_start:.1f}; token cache full at t={warm_at:.0f}s: "
            f"{rss_warm:.1f}; end {rss_end:.1f}; max {rss_max:.1f}"
        )
    else:
        print(f"\nAPI RSS (MiB): start {rss_start:.1f}, end {rss_end:.1f} (cache never filled)")
    print(f"signed tokens minted during the run (pools ran dry): {minter_live}")
    leaked = [
        t for t in results.sampled_tokens if any(p in api_log for p in t.split(".") if len(p) > 16)
    ]
    lines = api_log.splitlines()
    print(
        f"API log: {len(lines)} lines; "
        f"{len(results.sampled_tokens)} sampled tokens searched, {len(leaked)} found"
    )
    for line in lines[:12]:
        print(f"  | {line[:150]}")

    failures = list(results.violations)
    five_hundreds = sum(n for (_, s), n in results.counts.items() if s >= 500 and s != 503)
    if five_hundreds:
        failures.append(f"{five_hundreds} answers were 5xx other than 503")
    if leaked:
        failures.append("token material found in the API log")
    if not warm:
        failures.append("too few valid requests to fill the token cache: flatness not shown")
    elif rss_end - warm[0][1] > RSS_SLACK_MIB:
        failures.append(f"RSS grew {rss_end - warm[0][1]:.1f} MiB after the cache filled")
    if failures:
        print("\nFAILED:")
        for failure in failures[:50]:
            print(f"  {failure}")
        return 1
    print("\nOK: every valid token got 200, every invalid one its 4xx (or the documented 503)")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and run."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--duration", type=float, default=60.0, help="seconds (default 60)")
    parser.add_argument("--max-requests", type=int, default=2_000_000, help="hard cap on count")
    parser.add_argument("--concurrency", type=int, default=16, help="requests in flight")
    parser.add_argument(
        "--rate-hint", type=float, default=250.0, help="requests/s to pre-mint tokens for"
    )
    parser.add_argument(
        "--token-cache-size",
        type=int,
        default=1024,
        help="the API's verified-token cache (default 1024, so it fills early in a 60 s run)",
    )
    parser.add_argument("--seed", type=int, default=None, help="seed the token-class mix")
    args = parser.parse_args(argv)
    if args.duration < 60:
        parser.error("--duration must be at least 60: the outage schedule is built for it")
    if args.seed is not None:
        MIX.seed(args.seed)
    return asyncio.run(
        run(
            args.duration,
            args.max_requests,
            args.concurrency,
            args.rate_hint,
            args.token_cache_size,
        )
    )


if __name__ == "__main__":
    sys.exit(main())
