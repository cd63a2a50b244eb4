"""Capacity on paper: what each request profile asks of Redis, measured, then scaled by formula.

Run: ``python -m benchmarks.capacity`` (about 10 s; needs Debian's ``redis-server``).

Every profile runs the library's real code paths against a real redis-server
on loopback: ``BearerAuthMiddleware`` over ``httpx.ASGITransport`` in front of
a ``TokenVerifier`` or ``IntrospectionVerifier`` whose store is a
``RedisStore``, DPoP marks in a ``RedisStore`` too, the testing kit's
``LocalIssuer``, ``IntrospectionServer`` and ``DPoPKey`` as the issuer and the
client.  For each profile the script counts, exactly:

* round trips: the commands Redis received from our connections, read from
  ``MONITOR`` (commands a Lua script runs inside the server are listed apart,
  they cost no round trip);
* ``INFO commandstats`` before and after (every command the server executed,
  the scripts' inner ones and connection set-ups included), as a cross-check;
* the keys each profile wrote (seen in ``MONITOR``, with the TTL the command
  gave them): ``MEMORY USAGE``, value length and remaining TTL of those still
  there, and how many were deleted again within the profile (leases).

Round trips per request leave out what a new connection or process pays once
(``HELLO``; ``SCRIPT LOAD`` and the ``EVALSHA`` that failed before it), shown
in a column of their own.  The introspection profiles run with a higher
``max_rate`` than the default 50 calls a second, because their 200 cold
requests come back to back; the budget's counter is still incremented once per
call, as it is with the default.

Then a formula section turns the measured figures into what a fleet of N
hosts at R requests a second asks of the cluster, with a worked example.
Figures marked "measured" come from this run; "derived" ones are arithmetic on
them.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import redis.asyncio as aioredis
from starlette.types import Receive, Scope, Send

from okta_bearer import BearerAuthMiddleware
from okta_bearer._dpop.settings import DPoPSettings
from okta_bearer.redis_store import RedisStore
from okta_bearer.testing import DPoPKey, IntrospectionServer, LocalIssuer

from ._common import AUDIENCE, ISSUER, table
from ._redis import commandstats, redis_server

ORIGIN = "http://api.test"
PATH = "/items"
PREFIX = "capacity"
REQUESTS = 200
#: Cold requests run back to back, faster than the default budget of 50 calls a second;
#: the budget's counter is still incremented on every call, only its ceiling is higher.
MAX_RATE = 10_000.0


@dataclass
class Profile:
    """One measured profile: what ``events`` requests (or cold starts) cost Redis."""

    name: str
    events: int
    unit: str
    round_trips: Counter[str] = field(default_factory=Counter)
    in_scripts: Counter[str] = field(default_factory=Counter)
    server: Counter[str] = field(default_factory=Counter)
    keys: list[dict[str, Any]] = field(default_factory=list)

    @property
    def setup(self) -> int:
        """Round trips a new connection or process pays once, not each request.

        A ``HELLO`` per new pooled connection, and per Lua script a ``SCRIPT
        LOAD`` with the ``EVALSHA`` that failed before it (redis-py sends
        ``EVALSHA`` first and loads the script on ``NOSCRIPT``).
        """
        return self.round_trips["hello"] + 2 * self.round_trips["script"]

    @property
    def executed(self) -> Counter[str]:
        """What the server should have executed: commands sent plus those scripts ran.

        Named as ``INFO commandstats`` names them (``SCRIPT LOAD`` is ``script|load``).
        """
        names = {"script": "script|load"}
        counts = self.round_trips + self.in_scripts
        return Counter({names.get(name, name): n for name, n in counts.items()})

    @property
    def per_event(self) -> float:
        """Round trips per request (or event), the one-time set-up left out."""
        return (sum(self.round_trips.values()) - self.setup) / self.events


async def _app(scope: Scope, receive: Receive, send: Send) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


def _client(verifier: Any, dpop: DPoPSettings | None = None) -> httpx.AsyncClient:
    options: dict[str, Any] = {} if dpop is None else {"dpop": dpop}
    app = BearerAuthMiddleware(_app, verifier=verifier, **options)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=ORIGIN)


async def _ok(client: httpx.AsyncClient, headers: dict[str, str]) -> None:
    response = await client.get(PATH, headers=headers)
    if response.status_code != 200:
        raise RuntimeError(f"expected 200, got {response.status_code}: {response.headers}")


def _shape(key: str) -> str:
    """A key with its variable parts named, e.g. ``capacity:dpop:<jkt>:<jti>``."""
    parts = key.split(":")
    named = {
        "dpop": ["<jkt>", "<jti>"],
        "keys": ["<digest>"],
        "introspection": ["<namespace>"],
    }.get(parts[1], [])
    shaped = [*parts[:2], *named, *parts[2 + len(named) :]]
    shaped = ["<sha256(token)>" if re.fullmatch(r"[0-9a-f]{64}", p) else p for p in shaped]
    return ":".join("<second>" if p.isdigit() else p for p in shaped)


_WRITES = frozenset({"set", "incr", "pexpire", "del"})
#: The TTL a ``SET ... PX <ms>`` or ``PEXPIRE <key> <ms>`` gives its key.
_TTL = re.compile(r"^(?:SET \S+ .* PX|PEXPIRE \S+) (\d+)(?: NX)?$", re.IGNORECASE | re.DOTALL)
#: HELLOs the recorder itself causes in INFO commandstats per profile: the new
#: MONITOR connection, and the connection ``commandstats()`` opens after the block.
_RECORDER_HELLOS = 2


class Recorder:
    """Counts what reaches one redis-server: ``MONITOR`` for round trips, commandstats for all."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.admin = aioredis.Redis.from_url(url)
        self.watcher = aioredis.Redis.from_url(url)

    @asynccontextmanager
    async def measure(self, profile: Profile) -> AsyncIterator[None]:
        """Record every command the block causes into ``profile``, then the keys it wrote."""
        marker = f"capacity-end-{time.time_ns()}"
        written: dict[str, int] = {}
        await self.admin.ping()  # its connection is open before MONITOR starts
        before = commandstats(self.url)
        async with self.watcher.monitor() as monitor:
            yield
            await self.admin.echo(marker)
            while True:
                command = await monitor.next_command()
                text = command["command"]
                if marker in text:
                    break
                # redis-py gives the arguments unquoted, joined by spaces; keys hold none.
                arguments = text.split(" ", 2)
                name = arguments[0].lower()
                if name in _WRITES and len(arguments) > 1:
                    ttl = _TTL.match(text)
                    written[arguments[1]] = max(
                        written.get(arguments[1], 0), int(ttl.group(1)) if ttl else 0
                    )
                if command["client_type"] == "lua":
                    profile.in_scripts[name] += 1
                else:
                    profile.round_trips[name] += 1
        after = commandstats(self.url)
        for name, calls in after.items():
            spent = calls - before.get(name, 0)
            if name == "hello":
                spent -= _RECORDER_HELLOS
            # The recorder's own commands (INFO, MONITOR, ECHO, PING) are not the library's.
            if spent and name not in ("info", "monitor", "echo", "ping"):
                profile.server[name] = spent
        profile.keys = await self._keys(written)

    async def _keys(self, written: dict[str, int]) -> list[dict[str, Any]]:
        rows: dict[str, dict[str, Any]] = {}
        for key, set_ttl in sorted(written.items()):
            shape = _shape(key)
            row = rows.setdefault(
                shape,
                {"shape": shape, "count": 0, "gone": 0, "memory": [], "value": [], "set_ttl": 0},
            )
            row["set_ttl"] = max(row["set_ttl"], set_ttl)
            memory = await self.admin.memory_usage(key)
            if memory is None:  # written and deleted again within the profile (a lease)
                row["gone"] += 1
                continue
            row["count"] += 1
            row["memory"].append(int(memory))
            row["value"].append(int(await self.admin.strlen(key)))
            row["ttl"] = int(await self.admin.pttl(key))
        return list(rows.values())

    async def aclose(self) -> None:
        """Close the recorder's connections."""
        await self.admin.aclose()
        await self.watcher.aclose()


def _store(url: str) -> RedisStore:
    return RedisStore(url, prefix=PREFIX, timeout=2.0)


async def bearer_profiles(recorder: Recorder, url: str) -> list[Profile]:
    """Bearer JWTs through two workers: cached and new tokens, a cold start, a key rotation."""
    issuer = LocalIssuer(ISSUER, AUDIENCE)
    transport = httpx.MockTransport(issuer.handler)
    unit = REQUESTS, "request"
    cached = Profile("bearer JWT: repeated token (verified-token cache)", *unit)
    fresh = Profile("bearer JWT: a new token each request, keys warm", *unit)
    cold = Profile("bearer JWT: cold start, first worker (store empty)", 1, "cold start")
    adopt = Profile("bearer JWT: cold start, each other worker (keys in store)", 1, "cold start")
    rotate = Profile("bearer JWT: key rotation, first worker (unknown kid)", 1, "rotation")
    follow = Profile("bearer JWT: key rotation, each other worker", 1, "rotation")
    stores = [_store(url), _store(url)]
    verifiers = [issuer.verifier(store=s, transport=transport) for s in stores]
    clients = [_client(v) for v in verifiers]
    bearer = {"authorization": f"Bearer {issuer.mint()}"}
    try:
        async with recorder.measure(cold):
            await _ok(clients[0], bearer)
        async with recorder.measure(adopt):
            await _ok(clients[1], bearer)
        async with recorder.measure(cached):
            for _ in range(REQUESTS):
                await _ok(clients[0], bearer)
        tokens = [issuer.mint() for _ in range(REQUESTS)]
        async with recorder.measure(fresh):
            for each in tokens:
                await _ok(clients[0], {"authorization": f"Bearer {each}"})
        issuer.rotate()
        rotated = {"authorization": f"Bearer {issuer.mint()}"}
        async with recorder.measure(rotate):
            await _ok(clients[0], rotated)
        async with recorder.measure(follow):
            await _ok(clients[1], rotated)
        fetches = issuer.count("/v1/keys")
        if fetches != 2:  # one per cold start and one per rotation, for the whole "fleet"
            raise RuntimeError(f"expected 2 JWKS fetches, the issuer served {fetches}")
    finally:
        for client, verifier, store in zip(clients, verifiers, stores, strict=True):
            await client.aclose()
            await verifier.aclose()
            await store.aclose()
    return [cached, fresh, cold, adopt, rotate, follow]


async def dpop_profiles(recorder: Recorder, url: str) -> list[Profile]:
    """A DPoP-bound JWT with a fresh proof per request, marks in Redis."""
    issuer = LocalIssuer(ISSUER, AUDIENCE)
    key = DPoPKey()
    store, keys = _store(url), _store(url)
    verifier = issuer.verifier(store=keys, transport=httpx.MockTransport(issuer.handler))
    client = _client(verifier, DPoPSettings(mode="allowed", store=store))
    token = issuer.mint(cnf={"jkt": key.jkt})
    profile = Profile("DPoP: bound token, a fresh proof each request", REQUESTS, "request")
    try:
        await _ok(client, key.headers("GET", ORIGIN + PATH, token))  # keys loaded
        proofs = [key.headers("GET", ORIGIN + PATH, token) for _ in range(REQUESTS)]
        async with recorder.measure(profile):
            for headers in proofs:
                await _ok(client, headers)
    finally:
        await client.aclose()
        await verifier.aclose()
        await store.aclose()
        await keys.aclose()
    return [profile]


async def introspection_profiles(recorder: Recorder, url: str) -> list[Profile]:
    """Opaque tokens through two workers: a new token, a shared answer, a cached one."""
    server = IntrospectionServer(LocalIssuer(ISSUER, AUDIENCE))
    stores = [_store(url), _store(url)]
    verifiers = [server.verifier(store=s, max_rate=MAX_RATE) for s in stores]
    clients = [_client(v) for v in verifiers]
    unit = REQUESTS, "request"
    cold = Profile("introspection: a new token (cold)", *unit)
    shared = Profile("introspection: answer in the store (another worker asked)", *unit)
    cached = Profile("introspection: answer cached in this process", *unit)
    expires = int(time.time()) + 3600
    warm = {"authorization": f"Bearer {server.mint_opaque(exp=expires)}"}
    heads = [
        {"authorization": f"Bearer {server.mint_opaque(exp=expires)}"} for _ in range(REQUESTS)
    ]
    try:
        for client in clients:  # discovery, and the budget script loaded, before measuring
            await _ok(client, warm)
        async with recorder.measure(cold):
            for headers in heads:
                await _ok(clients[0], headers)
        async with recorder.measure(shared):
            for headers in heads:
                await _ok(clients[1], headers)
        async with recorder.measure(cached):
            for headers in heads:
                await _ok(clients[1], headers)
        calls = server.count("/v1/introspect")
        if calls != REQUESTS + 1:  # one per token for both workers, the warm-up's included
            raise RuntimeError(f"expected {REQUESTS + 1} introspection calls, got {calls}")
    finally:
        for client, verifier, store in zip(clients, verifiers, stores, strict=True):
            await client.aclose()
            await verifier.aclose()
            await store.aclose()
    return [cached, shared, cold]


def _median(values: list[int]) -> int:
    return sorted(values)[len(values) // 2] if values else 0


def _counts(counts: Counter[str]) -> str:
    return ", ".join(f"{name.upper()} {n}" for name, n in sorted(counts.items())) or "none"


def _key_cell(profile: Profile) -> str:
    cells = []
    for row in profile.keys:
        memory = _median(row["memory"])
        value = _median(row["value"])
        if not row["count"]:
            cells.append(
                f"`{row['shape']}` written {row['gone']} x with TTL "
                f"{row['set_ttl'] / 1000:g} s, deleted again"
            )
            continue
        if row["ttl"] < 0:
            ttl = "no TTL"
        elif row["set_ttl"]:
            ttl = f"set with TTL {row['set_ttl'] / 1000:g} s"
        else:  # only updated here: its TTL was set before the profile (a budget counter)
            ttl = f"TTL set earlier, {row['ttl'] / 1000:.1f} s left"
        cells.append(
            f"{row['count']} x `{row['shape']}` ({memory} B in memory, value {value} B, {ttl})"
        )
    return "; ".join(cells) or "none"


def _measured_table(profiles: list[Profile]) -> str:
    rows = [
        [
            p.name,
            f"{p.events} {p.unit}{'s' if p.events != 1 else ''}",
            f"{p.per_event:.3f}",
            str(p.setup),
            _counts(p.round_trips),
            _counts(p.in_scripts),
            _counts(p.server),
            _key_cell(p),
        ]
        for p in profiles
    ]
    header = [
        "profile",
        "measured over",
        "round trips per unit",
        "+ one-time set-up",
        "commands sent (MONITOR)",
        "run inside scripts",
        "INFO commandstats delta",
        "keys written (left: median MEMORY USAGE, value length, TTL)",
    ]
    return table(header, rows)


@dataclass(frozen=True)
class Example:
    """The worked example's assumptions (all inputs, none measured)."""

    hosts: int = 3
    rate: float = 2000.0
    dpop_share: float = 0.30
    opaque_share: float = 0.10
    workers: int = 4
    active_opaque: int = 5000


def _formulas(by_name: dict[str, Profile], example: Example) -> str:
    def trips(name: str) -> float:
        return by_name[name].per_event

    def key_row(name: str, last: str) -> dict[str, Any]:
        for row in by_name[name].keys:
            if row["shape"].endswith(last) and row["count"]:
                return row
        raise LookupError(f"no key ending in {last} measured in {name!r}")

    def key_bytes(name: str, last: str) -> int:
        return _median(key_row(name, last)["memory"])

    def key_ttl(name: str, last: str) -> float:
        return float(key_row(name, last)["set_ttl"]) / 1000

    bearer = trips("bearer JWT: repeated token (verified-token cache)")
    dpop = trips("DPoP: bound token, a fresh proof each request")
    mark = key_bytes("DPoP: bound token, a fresh proof each request", "<jti>")
    mark_ttl = key_ttl("DPoP: bound token, a fresh proof each request", "<jti>")
    cold_name = "introspection: a new token (cold)"
    cold = trips(cold_name)
    shared = trips("introspection: answer in the store (another worker asked)")
    answer = key_bytes(cold_name, "<sha256(token)>")
    answer_ttl = key_ttl(cold_name, "<sha256(token)>")
    jwt_first = trips("bearer JWT: key rotation, first worker (unknown kid)")
    jwt_other = trips("bearer JWT: key rotation, each other worker")
    key_set = key_bytes("bearer JWT: key rotation, first worker (unknown kid)", "<digest>")
    e = example
    total = e.hosts * e.rate
    dpop_rate = total * e.dpop_share
    marks = dpop_rate * mark_ttl
    renewals = e.active_opaque / answer_ttl
    workers = e.hosts * e.workers
    opaque_low = renewals * cold
    opaque_high = renewals * (cold + (workers - 1) * shared)
    bearer_ops = total * (1 - e.dpop_share - e.opaque_share) * bearer
    ops_high = bearer_ops + dpop_rate * dpop + opaque_high
    memory = marks * mark + e.active_opaque * answer + key_set
    return "\n".join(
        [
            "Formulas (derived: the measured figures above times the load; N hosts, "
            "R requests/s per host, f the share of each profile, W workers per host, "
            "K opaque tokens in use):",
            "",
            f"- Redis ops/s = N x R x (f_bearer x {bearer:.3f} + f_dpop x {dpop:.3f}) "
            "+ opaque ops/s (an opaque request answered from the worker's own cache costs "
            f"{trips('introspection: answer cached in this process'):.3f})",
            f"- opaque ops/s = K / {answer_ttl:g} s x ({cold:.3f} + M x {shared:.3f}), M the "
            "other workers that see the token within an answer's lifetime (0 to N x W - 1): "
            "one worker asks the issuer once per lifetime, the others read its copy; add 2 "
            "GETs per 20 ms for a worker waiting on another's lease (new tokens only)",
            f"- DPoP replay marks alive = N x R x f_dpop x {mark_ttl:g} s "
            f"(2 x window + 1 s); memory = marks x {mark} B",
            f"- introspection answers alive <= K (TTL {answer_ttl:g} s, never past exp); "
            f"memory = K x {answer} B; the lease a new answer takes is deleted within its "
            "request, the budget counter is one key per second (TTL 2 s)",
            f"- bearer JWT: no Redis traffic per request; per cold start or key rotation "
            f"{jwt_first:.0f} round trips for the first worker and {jwt_other:.0f} for each "
            f"of the other N x W - 1 (plus a HELLO per new connection); one key-set document "
            f"per issuer, {key_set} B with two keys, TTL max-age + 24 h",
            "",
            f"Worked example (derived): N={e.hosts}, R={e.rate:,.0f} req/s per host "
            f"({total:,.0f} req/s), {e.dpop_share:.0%} DPoP, {e.opaque_share:.0%} opaque, "
            f"the rest bearer JWT; W={e.workers}, K={e.active_opaque:,}:",
            "",
            f"- bearer JWT: {total * (1 - e.dpop_share - e.opaque_share):,.0f} req/s -> "
            f"{bearer_ops:,.0f} ops/s",
            f"- DPoP: {dpop_rate:,.0f} req/s -> {dpop_rate * dpop:,.0f} SET/s; "
            f"{marks:,.0f} marks alive, {marks * mark / 1e6:,.1f} MB",
            f"- opaque: {renewals:,.1f} answers renewed/s -> {opaque_low:,.0f} to "
            f"{opaque_high:,.0f} ops/s; {e.active_opaque * answer / 1e6:,.2f} MB",
            f"- total: at most about {ops_high:,.0f} ops/s and {memory / 1e6:,.1f} MB of keys "
            "(before Redis's own overhead and fragmentation)",
        ]
    )


async def run(url: str, example: Example) -> str:
    """Measure every profile against the redis-server at ``url``; return the report."""
    recorder = Recorder(url)
    sections: list[Callable[[Recorder, str], Awaitable[list[Profile]]]] = [
        bearer_profiles,
        dpop_profiles,
        introspection_profiles,
    ]
    profiles: list[Profile] = []
    try:
        for section in sections:
            # Each section has its own LocalIssuer (new keys) under the same issuer URL.
            await recorder.admin.flushdb()
            profiles.extend(await section(recorder, url))
    finally:
        await recorder.aclose()
    for profile in profiles:
        if profile.executed != profile.server:  # the two counts must tell the same story
            raise RuntimeError(f"MONITOR and INFO commandstats disagree on {profile.name!r}")
    info = await _server_version(url)
    return "\n".join(
        [
            f"Redis operations per request, measured against redis-server {info} on loopback "
            "(MONITOR and INFO commandstats; the keys each profile wrote, seen in MONITOR, "
            "sized with MEMORY USAGE, STRLEN and PTTL):",
            "",
            _measured_table(profiles),
            "",
            _formulas({p.name: p for p in profiles}, example),
        ]
    )


async def _server_version(url: str) -> str:
    client = aioredis.Redis.from_url(url)
    try:
        info = await client.info("server")
    finally:
        await client.aclose()
    return str(info.get("redis_version", "?"))


def main(argv: list[str] | None = None) -> None:
    """Command line: ``python -m benchmarks.capacity``."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.capacity")
    parser.add_argument("--hosts", type=int, default=3, help="N of the worked example")
    parser.add_argument("--rate", type=float, default=2000.0, help="R, req/s per host")
    parser.add_argument("--dpop", type=float, default=0.30, help="share of DPoP requests")
    parser.add_argument("--opaque", type=float, default=0.10, help="share of opaque tokens")
    parser.add_argument("--workers", type=int, default=4, help="W, workers per host")
    parser.add_argument("--active-opaque", type=int, default=5000, help="K, opaque tokens")
    args = parser.parse_args(argv)
    example = Example(
        args.hosts, args.rate, args.dpop, args.opaque, args.workers, args.active_opaque
    )
    with redis_server() as url:
        print(asyncio.run(run(url, example)))


if __name__ == "__main__":
    main()
