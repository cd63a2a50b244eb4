"""A real redis-server on a free loopback port for the benchmarks that need one.

The same server the tests use (Debian's ``redis-server``, installed by
``.ci/install-redis.sh``): no persistence, bound to 127.0.0.1 only, stopped
when the block ends.  ``commandstats()`` reads ``INFO commandstats`` so a run
can count the round trips it caused.
"""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import redis

ROOT = Path(__file__).resolve().parent.parent


def redis_binary() -> str | None:
    """Path of redis-server, running the repository's install script once if it is missing."""
    found = shutil.which("redis-server")
    if found is None:
        script = ROOT / ".ci" / "install-redis.sh"
        subprocess.run(["bash", str(script)], check=False)  # noqa: S603, S607 - our own script
        found = shutil.which("redis-server")
    return found


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def redis_server() -> Iterator[str]:
    """Start redis-server on loopback; yield its ``redis://127.0.0.1:PORT/0`` URL."""
    binary = redis_binary()
    if binary is None:
        raise RuntimeError("redis-server is not installed (Debian: apt-get install redis-server)")
    with tempfile.TemporaryDirectory() as workdir:
        port = _free_port()
        command = [
            binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
            "--appendonly", "no", "--dir", workdir, "--protected-mode", "yes",
        ]  # fmt: skip
        log = Path(workdir) / "redis.log"
        with log.open("wb") as out:
            process = subprocess.Popen(command, stdout=out, stderr=out)  # noqa: S603
        try:
            client = redis.Redis(port=port, socket_timeout=1, socket_connect_timeout=1)
            deadline = time.monotonic() + 30
            while True:
                if process.poll() is not None:
                    raise RuntimeError(f"redis-server exited: {log.read_text()}")
                try:
                    if client.ping():
                        break
                except redis.RedisError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.05)
            client.close()
            yield f"redis://127.0.0.1:{port}/0"
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def commandstats(url: str) -> dict[str, int]:
    """Calls per command since the server started (``INFO commandstats``), e.g. ``{"set": 12}``."""
    client = redis.Redis.from_url(url, socket_timeout=5)
    try:
        info = client.info("commandstats")
    finally:
        client.close()
    return {name.removeprefix("cmdstat_"): int(stats["calls"]) for name, stats in info.items()}
