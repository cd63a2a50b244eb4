"""A sustained load run on a fleet: uvicorn --workers 4 sharing a real redis-server; Bearer, DPoP.

``python -m benchmarks.fleet_load [--duration 60] [--connections 64]``

* **Redis**: a redis-server on loopback, started here (``benchmarks/_redis.py``).
* **The API**: ``benchmarks.fleet_app:build`` under ``uvicorn --workers 4``
  (uvloop + httptools when installed): the benchmark route behind
  ``BearerAuthMiddleware``; the verifier shares key sets through Redis
  (``store=``) and, when the middleware has the DPoP wiring, DPoP is allowed
  with replay marks in the same Redis.
* **The load**: ``python -m benchmarks.load`` in its own process, keep-alive
  connections to 127.0.0.1 for ``--duration`` seconds per run.  Bearer run:
  every request carries the same bearer token (the verified-token cache
  answers, as for a client reusing its token).  DPoP run: the same bound
  token (``cnf.jkt``) as ``Authorization: DPoP`` with a fresh proof per
  request; proofs are signed before the run (no signing while measuring), so
  the API accepts proofs up to ``duration + 60`` seconds old.  That widens
  the replay window, not the work per request.
* **Redis round trips per request**: ``INFO commandstats`` before and after
  each run; every command but ``INFO`` itself, divided by the requests answered.

Everything shares this machine's CPUs (the workers, redis-server and the load
generator), so throughput is what this machine gives, not a capacity figure.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from okta_bearer._dpop.proof import jwk_thumbprint
from okta_bearer.testing import LocalIssuer

from ._common import machine_facts, table
from ._redis import commandstats, redis_server
from .apps import PATH
from .dpop import middleware_has_dpop
from .verify import AUDIENCE, ISSUER

ROOT = Path(__file__).resolve().parent.parent
WORKERS = 4


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


class ProofMaker:
    """A DPoP client's ES256 key making proofs (as ``okta_bearer.testing.DPoPKey`` does)."""

    def __init__(self) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        numbers = self.key.public_key().public_numbers()
        self.jwk = {
            "kty": "EC",
            "crv": "P-256",
            "x": _b64(numbers.x.to_bytes(32, "big")),
            "y": _b64(numbers.y.to_bytes(32, "big")),
        }
        self.jkt = jwk_thumbprint(self.jwk)

    def proofs(self, url: str, token: str, count: int) -> list[str]:
        """``count`` proofs for ``GET url`` with ``ath`` of ``token``, ``iat`` now."""
        head = _b64(json.dumps({"typ": "dpop+jwt", "alg": "ES256", "jwk": self.jwk}).encode())
        ath = _b64(hashlib.sha256(token.encode("ascii")).digest())
        iat = int(time.time())
        algorithm = ec.ECDSA(hashes.SHA256())
        out = []
        for _ in range(count):
            claims = {"jti": str(uuid.uuid4()), "htm": "GET", "htu": url, "iat": iat, "ath": ath}
            signing_input = f"{head}.{_b64(json.dumps(claims).encode())}"
            r, s = decode_dss_signature(self.key.sign(signing_input.encode("ascii"), algorithm))
            signature = r.to_bytes(32, "big") + s.to_bytes(32, "big")
            out.append(f"{signing_input}.{_b64(signature)}")
        return out


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _start_api(env: dict[str, str], port: int, log: Path) -> subprocess.Popen[bytes]:
    command = [
        sys.executable, "-m", "uvicorn", "--factory", "benchmarks.fleet_app:build",
        "--host", "127.0.0.1", "--port", str(port), "--workers", str(WORKERS),
        "--no-access-log", "--log-level", "warning",
    ]  # fmt: skip
    with log.open("wb") as out:
        return subprocess.Popen(  # noqa: S603 - a fixed argv built above
            command, cwd=ROOT, env={**os.environ, **env}, stdout=out, stderr=out
        )


def _wait_ready(process: subprocess.Popen[bytes], port: int, headers: dict[str, str]) -> None:
    deadline = time.monotonic() + 90
    with httpx.Client(trust_env=False, timeout=5) as client:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise SystemExit("the API exited during start-up")
            try:
                if client.get(f"http://127.0.0.1:{port}{PATH}", headers=headers).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.3)
    raise SystemExit("the API did not answer within 90 s")


def _load(
    port: int, header: str, duration: float, connections: int, proofs: Path | None
) -> dict[str, Any]:
    command = [sys.executable, "-m", "benchmarks.load", "--port", str(port), "--path", PATH]
    command += ["--connections", str(connections), "--duration", f"{duration:g}"]
    command += ["--header", header]
    if proofs is not None:
        command += ["--proofs", str(proofs)]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=True)  # noqa: S603
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def _round_trips(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    return {
        name: after.get(name, 0) - before.get(name, 0)
        for name in after
        if name != "info" and after.get(name, 0) - before.get(name, 0)
    }


def run(duration: float, connections: int) -> str:
    """Run the bearer run and (when wired) the DPoP run; return the report."""
    issuer = LocalIssuer(ISSUER, AUDIENCE)
    maker = ProofMaker()
    exp = int(time.time()) + 86400
    bearer = issuer.mint(exp=exp)
    bound = issuer.mint(exp=exp, cnf={"jkt": maker.jkt})
    pem = issuer.signing_key.private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    wired = middleware_has_dpop()
    rows: list[list[str]] = []
    notes: list[str] = []
    with tempfile.TemporaryDirectory() as folder, redis_server() as redis_url:
        spec = Path(folder) / "spec.json"
        spec.write_text(json.dumps({"issuer": ISSUER, "audience": AUDIENCE, "kid": issuer.kid,
                                    "pem": pem}))  # fmt: skip
        env = {"FLEET_SPEC": str(spec), "FLEET_REDIS_URL": redis_url}
        if wired:
            env["FLEET_DPOP_MAX_AGE"] = str(int(duration + 60))
        port = _free_port()
        url = f"http://127.0.0.1:{port}{PATH}"
        log = Path(folder) / "api.log"
        process = _start_api(env, port, log)
        try:
            _wait_ready(process, port, {"Authorization": f"Bearer {bearer}"})
            # Warm every worker (keys fetched or adopted) before measuring.
            _load(port, f"Authorization: Bearer {bearer}", 2, connections, None)
            runs: list[tuple[str, str, Path | None]] = [
                ("Bearer, repeated token", f"Authorization: Bearer {bearer}", None)
            ]
            if wired:
                runs.append(("DPoP, repeated bound token, fresh proof each", "", None))
            rate = 0.0
            for label, header, _ in runs:
                proofs = None
                if label.startswith("DPoP"):
                    count = int(max(rate, 500) * duration * 1.3)
                    made = time.perf_counter()
                    proofs = Path(folder) / "proofs.txt"
                    proofs.write_text("\n".join(maker.proofs(url, bound, count)))
                    notes.append(
                        f"{count} proofs signed before the DPoP run in "
                        f"{time.perf_counter() - made:.0f} s"
                    )
                    header = f"Authorization: DPoP {bound}"
                    # One warm-up request per worker's connection pool, as for Bearer.
                    warm = Path(folder) / "warm.txt"
                    warm.write_text("\n".join(maker.proofs(url, bound, 2000)))
                    _load(port, header, 2, connections, warm)
                before = commandstats(redis_url)
                result = _load(port, header, duration, connections, proofs)
                after = commandstats(redis_url)
                trips = _round_trips(before, after)
                requests = result["requests"]
                rate = requests / result["seconds"]
                statuses = ", ".join(f"{k}: {v}" for k, v in sorted(result["statuses"].items()))
                if result.get("proofs_ran_out"):
                    notes.append(f"{label}: the pre-signed proofs ran out before the end")
                rows.append(
                    [
                        label,
                        f"{result['seconds']:.0f}",
                        f"{requests:,}",
                        statuses,
                        f"{rate:,.0f}",
                        f"{result['p50'] * 1e3:.1f}",
                        f"{result['p99'] * 1e3:.1f}",
                        f"{sum(trips.values()) / max(requests, 1):.3f}",
                        ", ".join(f"{k} {v:,}" for k, v in sorted(trips.items())) or "none",
                    ]
                )
        finally:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        api_log = log.read_text(errors="replace").strip()
    lines = [
        f"uvicorn --workers {WORKERS} ({_flavour()}) on 127.0.0.1, one redis-server on loopback "
        f"shared by the workers (key sets; DPoP replay marks); load: python -m benchmarks.load, "
        f"{connections} keep-alive connections, {duration:g} s per run; all on this machine's "
        f"{os.cpu_count()} CPUs.",
        "",
        table(
            [
                "requests",
                "s",
                "answered",
                "statuses",
                "req/s",
                "p50 ms",
                "p99 ms",
                "Redis round trips/request",
                "Redis commands",
            ],
            rows,
        ),
        "",
    ]
    lines += [f"- {note}" for note in notes]
    if not wired:
        lines.append("- DPoP run: not measured (this commit's middleware takes no dpop=)")
    if api_log:
        lines.append(f"- API log (first lines): {api_log[:500]!r}")
    lines.append("")
    return "\n".join(lines)


def _flavour() -> str:
    import importlib.util

    loop = "uvloop" if importlib.util.find_spec("uvloop") else "asyncio"
    http = "httptools" if importlib.util.find_spec("httptools") else "h11"
    return f"{loop} + {http}"


def main(argv: list[str] | None = None) -> None:
    """Parse arguments, run, print the report."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.fleet_load", description=__doc__)
    parser.add_argument("--duration", type=float, default=60.0, help="seconds per run")
    parser.add_argument("--connections", type=int, default=64, help="keep-alive connections")
    args = parser.parse_args(argv)
    print("# okta_bearer fleet load run")
    print()
    print(f"Command: python -m benchmarks.fleet_load {' '.join(sys.argv[1:])}".rstrip())
    for line in machine_facts():
        print(f"- {line}")
    print(f"- load average at start: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print()
    print(run(args.duration, args.connections))


if __name__ == "__main__":
    main()
