"""WSGI over HTTP: a Flask route under gunicorn, protected by okta_bearer and not, interleaved.

``python -m benchmarks.wsgi [--rounds 10] [--duration 5] [--worker-class sync]``:
one gunicorn per app (``benchmarks/wsgi_app.py``: 2 ``gthread`` workers of 4
threads each, or 2 ``sync`` workers, on 127.0.0.1), all started at once and
idle until their turn; each round loads every server once, in a rotated
order, for the same duration and concurrency, with ``wrk`` when installed
(else ``python -m benchmarks.load``).
Every request carries the same ``Authorization`` header (the unprotected app
ignores it).  Prints req/s and p99 (medians over the rounds) and the ratio of
each protected app to the unprotected one, and the server's CPU time per
request (user + system time of the gunicorn processes during the run): on a
shared machine the req/s also measure what the neighbours leave, the CPU per
request much less so.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from cryptography.hazmat.primitives import serialization

from okta_bearer.testing import LocalIssuer

from ._common import machine_facts, table, verdict
from .over_http import _python_load, _wrk
from .verify import AUDIENCE, ISSUER
from .wsgi_app import PATH

ROOT = Path(__file__).resolve().parent.parent
WORKERS, THREADS = 2, 4


@dataclass
class Gunicorn:
    """One gunicorn serving one app kind, and its results per round."""

    kind: str
    label: str
    #: The kind this one is compared with ("": the first server; itself: a baseline).
    base: str = ""
    port: int = 0
    process: subprocess.Popen[bytes] | None = None
    rps: list[float] = field(default_factory=list)
    p99: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _cpu_seconds(process: subprocess.Popen[bytes]) -> float:
    """CPU time (user + system) of the arbiter and its workers so far (Linux /proc)."""
    children = Path(f"/proc/{process.pid}/task/{process.pid}/children").read_text().split()
    ticks = 0
    for pid in [process.pid, *map(int, children)]:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def _start(server: Gunicorn, spec: str, worker_class: str, app: str) -> None:
    server.port = _free_port()
    command = [
        sys.executable, "-m", "gunicorn", app,
        "--bind", f"127.0.0.1:{server.port}", "--workers", str(WORKERS),
        "--worker-class", worker_class, "--log-level", "warning",
        "--backlog", "2048", "--no-control-socket",
        # A "sync" worker given threads silently becomes a gthread worker.
        "--threads", str(THREADS if worker_class == "gthread" else 1),
    ]  # fmt: skip
    env = {**os.environ, "BENCH_KIND": server.kind, "BENCH_SPEC": spec}
    server.process = subprocess.Popen(command, cwd=ROOT, env=env)  # noqa: S603


def _wait_ready(server: Gunicorn, header: dict[str, str], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    url = f"http://127.0.0.1:{server.port}{PATH}"
    while True:
        assert server.process is not None
        if server.process.poll() is not None:
            raise SystemExit(f"the {server.kind} server exited ({server.process.returncode})")
        try:
            status = httpx.get(url, headers=header, trust_env=False, timeout=5.0).status_code
        except httpx.TransportError:
            status = 0
        if status == 200:
            return
        if status or time.monotonic() > deadline:
            raise SystemExit(f"the {server.kind} server answered {status or 'nothing'}")
        time.sleep(0.2)


def run(
    *, rounds: int, duration: float, connections: int = 8, worker_class: str = "gthread"
) -> str:
    """Run the WSGI section and return its report."""
    servers = [
        Gunicorn("unprotected", "unprotected Flask route"),
        Gunicorn("okta_bearer", "BearerAuth, repeated token"),
        Gunicorn("okta_bearer+scopes", "BearerAuth + require_scopes, repeated token"),
    ]
    measure(
        servers,
        "benchmarks.wsgi_app:app",
        rounds=rounds,
        duration=duration,
        connections=connections,
        worker_class=worker_class,
        name="wsgi",
    )
    return report(
        servers,
        framework="Flask",
        rounds=rounds,
        duration=duration,
        connections=connections,
        worker_class=worker_class,
    )


def measure(
    servers: list[Gunicorn],
    app: str,
    *,
    rounds: int,
    duration: float,
    connections: int,
    worker_class: str,
    name: str,
) -> None:
    """Serve ``app`` (``BENCH_KIND`` = each server's kind) and load every server, interleaved.

    Each server's ``rps``, ``p99`` and ``cpu`` get one entry per round.
    """
    issuer = LocalIssuer(ISSUER, AUDIENCE)
    token = issuer.mint(exp=int(time.time()) + 86400)
    header = {"Authorization": f"Bearer {token}"}
    pem = issuer.signing_key.private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    load = _wrk if shutil.which("wrk") else _python_load
    with tempfile.TemporaryDirectory() as folder:
        spec = os.path.join(folder, "spec.json")
        with open(spec, "w", encoding="utf-8") as handle:
            json.dump(
                {"issuer": ISSUER, "audience": AUDIENCE, "kid": issuer.kid, "pem": pem}, handle
            )
        try:
            for server in servers:
                _start(server, spec, worker_class, app)
            for server in servers:
                _wait_ready(server, header)
                load(server.port, token, connections, min(duration, 2.0))  # warm-up
            for index in range(rounds):
                shift = index % len(servers)
                for server in servers[shift:] + servers[:shift]:
                    assert server.process is not None
                    before = _cpu_seconds(server.process)
                    rps, p99 = load(server.port, token, connections, duration)
                    used = _cpu_seconds(server.process) - before
                    server.rps.append(rps)
                    server.p99.append(p99)
                    server.cpu.append(used / (rps * duration))
                print(
                    f"\r  {name}: round {index + 1}/{rounds}", end="", file=sys.stderr, flush=True
                )
            print(file=sys.stderr)
        finally:
            for server in servers:
                if server.process is not None:
                    server.process.terminate()
            for server in servers:
                if server.process is not None:
                    try:
                        server.process.wait(timeout=10)
                    except subprocess.TimeoutExpired:
                        server.process.kill()
                        server.process.wait()


def report(
    servers: list[Gunicorn],
    *,
    framework: str,
    rounds: int,
    duration: float,
    connections: int,
    worker_class: str,
) -> str:
    """The table of medians, each server against its ``base`` (the first server by default)."""
    by_kind = {server.kind: server for server in servers}
    body = []
    verdicts = []
    for server in servers:
        base = by_kind.get(server.base, servers[0])
        base_rps, base_p99 = statistics.median(base.rps), statistics.median(base.p99)
        base_cpu = statistics.median(base.cpu)
        rps, p99 = statistics.median(server.rps), statistics.median(server.p99)
        cpu = statistics.median(server.cpu)
        body.append(
            [
                server.label,
                f"{rps:,.0f}",
                f"{rps / base_rps:.2f}x",
                f"{p99 * 1e3:.2f}",
                f"{p99 / base_p99:.2f}x",
                f"{cpu * 1e6:.0f}",
                f"{base_cpu / cpu:.2f}x",
            ]
        )
        if server is not base:
            verdicts.append(
                f"- {server.label}: {rps / base_rps:.2f}x req/s, p99 {p99 / base_p99:.2f}x "
                f"-> {verdict(rps / base_rps >= 0.85)}"
            )
    wrk = shutil.which("wrk")
    generator = f"wrk ({wrk}), 1 thread" if wrk else "python -m benchmarks.load (wrk not installed)"
    shape = (
        f"{WORKERS} gthread workers x {THREADS} threads"
        if worker_class == "gthread"
        else (f"{WORKERS} sync workers")
    )
    headers = ["app", "req/s", "vs unprotected", "p99 ms", "p99 vs unprotected"]
    headers += ["server CPU us/req", "CPU vs unprotected"]
    lines = [
        f"gunicorn {_version()}, {shape} per app, {framework}, on 127.0.0.1; load: {generator}, "
        f"{connections} connections, {duration:g} s per run; {rounds} interleaved rounds, "
        "medians.  Server CPU: user + system time of the arbiter and its workers during the "
        "run, per request served (CPU vs unprotected: the unprotected cost divided by this one).",
        "",
        table(headers, body),
        "",
        "Target (issue 16): a protected route at least 0.85x the unprotected req/s:",
        *verdicts,
        "",
    ]
    return "\n".join(lines)


def _version() -> str:
    from importlib.metadata import version

    return version("gunicorn")


def main() -> None:
    """Parse arguments, run the section, print the report."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.wsgi")
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--worker-class", choices=("gthread", "sync"), default="gthread")
    args = parser.parse_args()
    print("\n".join(machine_facts()))
    print()
    report = run(
        rounds=args.rounds,
        duration=args.duration,
        connections=args.connections,
        worker_class=args.worker_class,
    )
    print(report)


if __name__ == "__main__":
    main()
