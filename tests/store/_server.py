"""A real redis-server on a free loopback port, started and stopped by the tests.

Debian's ``redis-server`` is installed by ``.ci/install-redis.sh``; when it is
missing, :func:`redis_binary` runs that script (a fresh clone must pass
``python -m pytest`` with nothing else done), and fails the test if it cannot.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

import pytest
import redis

from ..servers import free_port

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT = 30.0


def redis_binary() -> str:
    """Path of redis-server, installing Debian's package first when it is missing."""
    found = shutil.which("redis-server")
    if found is None:
        # Fixed command: bash and our own install script.
        subprocess.run(["bash", str(ROOT / ".ci" / "install-redis.sh")], check=False)  # noqa: S603, S607
        found = shutil.which("redis-server")
    if found is None:
        pytest.fail("redis-server is missing and .ci/install-redis.sh could not install it")
    return found


class RedisServer:
    """One redis-server process (no persistence, loopback only) that tests can stop and pause.

    ``options`` are extra ``--name value`` arguments (a cluster node, a
    replica); ``sentinel_config`` makes it a Sentinel reading that file (which
    it rewrites, as Sentinel does).
    """

    def __init__(
        self,
        workdir: Path,
        options: Sequence[str] = (),
        *,
        sentinel_config: str | None = None,
    ) -> None:
        self.binary = redis_binary()
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.options = list(options)
        self.sentinel_config = sentinel_config
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """``redis://127.0.0.1:<port>/0``."""
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def pid(self) -> int:
        """The running server's process id."""
        assert self.process is not None
        return self.process.pid

    def launch(self) -> None:
        """Start (or restart, on the same port) without waiting: see :meth:`wait_ready`."""
        command = [self.binary]
        if self.sentinel_config is not None:
            config = self.workdir / "sentinel.conf"
            if not config.exists():  # a restart keeps what Sentinel learnt
                config.write_text(self.sentinel_config)
            command += [str(config), "--sentinel"]
        command += [
            "--port", str(self.port), "--bind", "127.0.0.1",
            "--save", "", "--appendonly", "no", "--dir", str(self.workdir),
            "--protected-mode", "yes", *self.options,
        ]  # fmt: skip
        with (self.workdir / "redis.log").open("ab") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=log)  # noqa: S603

    def start(self) -> None:
        """Start (or restart, on the same port) and wait until it answers PING."""
        self.launch()
        self.wait_ready()

    def wait_ready(self) -> None:
        """Wait until the launched server answers PING."""
        assert self.process is not None
        deadline = time.monotonic() + START_TIMEOUT
        client = redis.Redis(port=self.port, socket_timeout=1, socket_connect_timeout=1)
        try:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    pytest.fail(f"redis-server exited: {(self.workdir / 'redis.log').read_text()}")
                try:
                    if client.ping():
                        return
                except redis.RedisError:
                    time.sleep(0.05)
        finally:
            client.close()
        pytest.fail(f"redis-server did not answer within {START_TIMEOUT} s")

    def stop(self) -> None:
        """Terminate the server and wait for it to exit."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)  # a paused server cannot exit
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=30)
        self.process = None

    def kill(self) -> None:
        """SIGKILL by process id, as a crashed host would vanish (nothing flushed, nothing said)."""
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)
        self.process = None

    def pause(self) -> None:
        """Freeze the server (SIGSTOP): connections stay open, nothing answers."""
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        """Undo :meth:`pause`."""
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)
