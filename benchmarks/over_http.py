"""Over HTTP: uvicorn on 127.0.0.1, one process per app, loaded in turn by a bounded generator.

Every server runs at once (idle until its turn) on a socket the parent bound,
so the rounds interleave: each round loads every server once, in a rotated
order, for the same duration and concurrency.  The generator is ``wrk`` when
installed (Debian: ``apt-get install wrk``), else ``python -m benchmarks.load``
in its own process; the report says which.  Every request carries the same
``Authorization`` header (the unprotected app ignores it).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
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

from ._common import table, verdict
from .apps import PATH
from .verify import AUDIENCE, ISSUER

ROOT = Path(__file__).resolve().parent.parent
_UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}


@dataclass
class Server:
    """One uvicorn process serving one app kind, and its results per round."""

    kind: str
    label: str
    port: int = 0
    process: subprocess.Popen[bytes] | None = None
    rps: list[float] = field(default_factory=list)
    p99: list[float] = field(default_factory=list)


def _start(server: Server, spec: str) -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(2048)
    sock.set_inheritable(True)
    server.port = sock.getsockname()[1]
    command = [sys.executable, "-m", "benchmarks.serve", "--kind", server.kind]
    command += ["--fd", str(sock.fileno()), "--spec", spec]
    server.process = subprocess.Popen(command, cwd=ROOT, pass_fds=[sock.fileno()])  # noqa: S603
    sock.close()


def _wait_ready(server: Server, header: dict[str, str], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    url = f"http://127.0.0.1:{server.port}{PATH}"
    with httpx.Client(trust_env=False, timeout=5.0) as client:
        while True:
            assert server.process is not None
            if server.process.poll() is not None:
                raise SystemExit(f"the {server.kind} server exited ({server.process.returncode})")
            try:
                status = client.get(url, headers=header).status_code
            except httpx.TransportError:
                status = 0
            if status == 200:
                return
            if status or time.monotonic() > deadline:
                raise SystemExit(f"the {server.kind} server answered {status or 'nothing'}")
            time.sleep(0.2)


def _seconds(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if match is None:
        raise ValueError(f"unreadable wrk duration {text!r}")
    return float(match.group(1)) * _UNITS[match.group(2)]


def _wrk(port: int, token: str, connections: int, duration: float) -> tuple[float, float]:
    command = ["wrk", "-t1", f"-c{connections}", f"-d{duration:g}s", "--latency"]
    command += ["-H", f"Authorization: Bearer {token}", f"http://127.0.0.1:{port}{PATH}"]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout  # noqa: S603
    if "Non-2xx" in out or "Socket errors" in out:
        raise SystemExit("wrk saw errors:\n" + out.replace(token, "<token>"))
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    # The "Latency Distribution" block: a line that is just "99%" and a duration.
    p99 = _seconds(re.search(r"^\s*99%\s+(\S+)\s*$", out, re.M).group(1))  # type: ignore[union-attr]
    return rps, p99


def _python_load(port: int, token: str, connections: int, duration: float) -> tuple[float, float]:
    command = [sys.executable, "-m", "benchmarks.load", "--port", str(port), "--path", PATH]
    command += ["--connections", str(connections), "--duration", f"{duration:g}"]
    command += ["--header", f"Authorization: Bearer {token}"]
    out = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=True)  # noqa: S603
    result = json.loads(out.stdout)
    if set(result["statuses"]) != {"200"}:
        raise SystemExit(f"the load generator saw statuses {result['statuses']}")
    return result["requests"] / result["seconds"], result["p99"]


def run(*, rounds: int, duration: float, connections: int = 32) -> str:
    """Run the HTTP section and return its report."""
    issuer = LocalIssuer(ISSUER, AUDIENCE)
    token = issuer.mint(exp=int(time.time()) + 86400)
    header = {"Authorization": f"Bearer {token}"}
    pem = issuer.signing_key.private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    wrk = shutil.which("wrk")
    load = _wrk if wrk else _python_load
    servers = [
        Server("unprotected", "unprotected route"),
        Server("okta_bearer", "okta_bearer middleware, repeated token"),
        Server("okta_bearer+scopes", "okta_bearer middleware + require_scopes, repeated token"),
        Server("pyjwt-dependency", "PyJWT jwt.decode in an async dependency"),
    ]
    with tempfile.TemporaryDirectory() as folder:
        spec = os.path.join(folder, "spec.json")
        with open(spec, "w", encoding="utf-8") as handle:
            json.dump(
                {"issuer": ISSUER, "audience": AUDIENCE, "kid": issuer.kid, "pem": pem}, handle
            )
        try:
            for server in servers:
                _start(server, spec)
            for server in servers:
                _wait_ready(server, header)
                load(server.port, token, connections, min(duration, 2.0))  # warm-up
            for index in range(rounds):
                shift = index % len(servers)
                for server in servers[shift:] + servers[:shift]:
                    rps, p99 = load(server.port, token, connections, duration)
                    server.rps.append(rps)
                    server.p99.append(p99)
                print(f"\r  http: round {index + 1}/{rounds}", end="", file=sys.stderr, flush=True)
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

    base_rps = statistics.median(servers[0].rps)
    base_p99 = statistics.median(servers[0].p99)
    body = []
    for server in servers:
        rps, p99 = statistics.median(server.rps), statistics.median(server.p99)
        body.append(
            [
                server.label,
                f"{rps:,.0f}",
                f"{rps / base_rps:.2f}x",
                f"{p99 * 1e3:.2f}",
                f"{p99 / base_p99:.2f}x",
            ]
        )
    generator = f"wrk ({wrk}), 1 thread" if wrk else "python -m benchmarks.load (wrk not installed)"
    lines = [
        f"uvicorn, 1 worker per app, {_server_flavour()}, on 127.0.0.1; load: {generator}, "
        f"{connections} connections, {duration:g} s per run; {rounds} interleaved rounds, medians.",
        "",
        table(["app", "req/s", "vs unprotected", "p99 ms", "p99 vs unprotected"], body),
        "",
        "Target: over HTTP >= 0.90x req/s and p99 within 1.1x of unprotected:",
    ]
    for server in servers[1:3]:
        rps_ratio = statistics.median(server.rps) / base_rps
        p99_ratio = statistics.median(server.p99) / base_p99
        lines.append(
            f"- {server.label}: {rps_ratio:.2f}x req/s, p99 {p99_ratio:.2f}x "
            f"-> {verdict(rps_ratio >= 0.90 and p99_ratio <= 1.10)}"
        )
    lines.append("")
    return "\n".join(lines)


def _server_flavour() -> str:
    import importlib.util

    loop = "uvloop" if importlib.util.find_spec("uvloop") else "asyncio"
    http = "httptools" if importlib.util.find_spec("httptools") else "h11"
    return f"{loop} + {http}"
