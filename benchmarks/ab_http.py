"""Over HTTP, this tree against an older one, interleaved: ``python -m benchmarks.ab_http DIR``.

Timed HTTP figures move by 10 % and more between runs on a shared machine,
so two separate runs cannot say whether a change made requests slower.  This
starts the HTTP section's servers (``unprotected`` and ``okta_bearer``) from
this tree *and* from ``DIR``, an older checkout made with, for example::

    mkdir /tmp/old && git archive <commit> okta_bearer benchmarks | tar -x -C /tmp/old

and loads all four in turn with ``wrk`` for ``--rounds`` rounds (order
rotated each round, 5 s per run), then prints the medians and the per-round
new/old ratio of the protected servers.  ``DIR`` must hold ``okta_bearer``
and ``benchmarks`` (its ``benchmarks.serve`` serves its own library).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from cryptography.hazmat.primitives import serialization

from okta_bearer.testing import LocalIssuer

from .over_http import Server, _wait_ready, _wrk
from .verify import AUDIENCE, ISSUER

ROOT = Path(__file__).resolve().parent.parent


def _start(server: Server, spec: str, cwd: Path) -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(2048)
    sock.set_inheritable(True)
    server.port = sock.getsockname()[1]
    command = [sys.executable, "-m", "benchmarks.serve", "--kind", server.kind]
    command += ["--fd", str(sock.fileno()), "--spec", spec]
    server.process = subprocess.Popen(command, cwd=cwd, pass_fds=[sock.fileno()])  # noqa: S603
    sock.close()


def run(old: Path, rounds: int, duration: float = 5.0, connections: int = 32) -> str:
    """Load both trees' servers interleaved; return the report."""
    issuer = LocalIssuer(ISSUER, AUDIENCE)
    token = issuer.mint(exp=int(time.time()) + 86400)
    header = {"Authorization": f"Bearer {token}"}
    pem = issuer.signing_key.private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    servers = [
        (Server("unprotected", "this tree: unprotected route"), ROOT),
        (Server("okta_bearer", "this tree: okta_bearer middleware"), ROOT),
        (Server("unprotected", f"{old}: unprotected route"), old),
        (Server("okta_bearer", f"{old}: okta_bearer middleware"), old),
    ]
    with tempfile.TemporaryDirectory() as folder:
        spec = os.path.join(folder, "spec.json")
        with open(spec, "w", encoding="utf-8") as handle:
            json.dump(
                {"issuer": ISSUER, "audience": AUDIENCE, "kid": issuer.kid, "pem": pem}, handle
            )
        try:
            for server, cwd in servers:
                _start(server, spec, cwd)
            for server, _ in servers:
                _wait_ready(server, header)
                _wrk(server.port, token, connections, 2.0)  # warm-up
            for index in range(rounds):
                shift = index % len(servers)
                for server, _ in servers[shift:] + servers[:shift]:
                    rps, p99 = _wrk(server.port, token, connections, duration)
                    server.rps.append(rps)
                    server.p99.append(p99)
                print(f"\r  ab_http: round {index + 1}/{rounds}", end="", file=sys.stderr)
            print(file=sys.stderr)
        finally:
            for server, _ in servers:
                if server.process is not None:
                    server.process.terminate()
                    server.process.wait(timeout=30)
    lines = [f"wrk -t1 -c{connections}, {duration:g} s per run, {rounds} interleaved rounds:", ""]
    for server, _ in servers:
        lines.append(
            f"- {server.label}: {statistics.median(server.rps):,.0f} req/s, "
            f"p99 {statistics.median(server.p99) * 1e3:.2f} ms (median)"
        )
    new, old_rps = servers[1][0].rps, servers[3][0].rps
    per_round = [a / b for a, b in zip(new, old_rps, strict=True)]
    lines += [
        f"- okta_bearer this tree / {old}, per round: "
        + ", ".join(f"{r:.2f}" for r in per_round)
        + f"; median {statistics.median(per_round):.3f}",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    """Parse arguments and print the A/B report."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.ab_http", description=__doc__)
    parser.add_argument("old", type=Path, help="an older checkout (okta_bearer + benchmarks)")
    parser.add_argument("--rounds", type=int, default=8)
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        parser.error("needs wrk (Debian: apt-get install wrk)")
    if not (args.old / "okta_bearer").is_dir() or not (args.old / "benchmarks").is_dir():
        parser.error(f"{args.old} must hold okta_bearer/ and benchmarks/")
    print(run(args.old.resolve(), args.rounds))


if __name__ == "__main__":
    main()
