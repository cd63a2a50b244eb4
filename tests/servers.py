"""Real servers on 127.0.0.1 for the tests: one helper for threads, one for worker processes.

* :func:`serve` runs an ASGI app under ``uvicorn.Server`` in a background
  thread on a socket bound to port 0 (no window for another process to take
  the port), and stops it when the ``with`` block ends.
* :class:`UvicornProcess` runs ``uvicorn module:app --workers N`` as a
  subprocess, for state that must hold across processes.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import uvicorn
from starlette.types import ASGIApp

ROOT = Path(__file__).resolve().parents[1]
START_TIMEOUT = 60.0  # generous: the CI machine is shared


def free_port() -> int:
    """A loopback TCP port the OS reports as free right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Server:
    """A running threaded uvicorn server: ``base_url`` is ``http://127.0.0.1:<port>``."""

    port: int
    server: uvicorn.Server
    thread: threading.Thread
    sock: socket.socket

    @property
    def base_url(self) -> str:
        """The HTTP origin of the server."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        """The WebSocket origin of the server."""
        return f"ws://127.0.0.1:{self.port}"

    def stop(self) -> None:
        """Ask uvicorn to exit and wait for its thread."""
        self.server.should_exit = True
        self.thread.join(timeout=START_TIMEOUT)
        self.sock.close()
        assert not self.thread.is_alive(), "uvicorn did not stop"


def start_server(app: ASGIApp, *, root_path: str = "", lifespan: str = "off") -> Server:
    """Serve ``app`` with uvicorn on 127.0.0.1 in a background thread; wait until it listens."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app,
        log_level="warning",
        lifespan=lifespan,  # type: ignore[arg-type]
        ws="websockets-sansio",
        timeout_graceful_shutdown=5,
        root_path=root_path,
    )
    server = uvicorn.Server(config)
    # uvicorn installs signal handlers only from the main thread, so none here.
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name=f"uvicorn-{port}", daemon=True
    )
    thread.start()
    deadline = time.monotonic() + START_TIMEOUT
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            sock.close()
            pytest.fail("uvicorn did not start")
        time.sleep(0.01)
    return Server(port, server, thread, sock)


@contextlib.contextmanager
def serve(app: ASGIApp, **options: str) -> Iterator[Server]:
    """``with serve(app) as server:`` a threaded uvicorn for the block's duration."""
    server = start_server(app, **options)
    try:
        yield server
    finally:
        server.stop()


class UvicornProcess:
    """``python -m uvicorn <app> --workers N`` on a free loopback port, as a subprocess.

    Its output goes to ``log`` (read it in assertion messages). ``env`` is added
    to this process's environment.
    """

    def __init__(self, app: str, *, workers: int, env: Mapping[str, str], log: Path) -> None:
        self.port = free_port()
        self.log = log
        command = [
            sys.executable, "-m", "uvicorn", app, "--host", "127.0.0.1",
            "--port", str(self.port), "--workers", str(workers), "--log-level", "warning",
        ]  # fmt: skip
        with log.open("ab") as out:
            self.process = subprocess.Popen(  # noqa: S603 - our own fixed command
                command, cwd=ROOT, env={**os.environ, **env}, stdout=out, stderr=out
            )
        self._wait_until_up()

    @property
    def base_url(self) -> str:
        """The HTTP origin of the server."""
        return f"http://127.0.0.1:{self.port}"

    def _wait_until_up(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"uvicorn exited:\n{self.log.read_text()}")
            try:
                httpx.get(self.base_url + "/health", timeout=1, trust_env=False)
                return
            except httpx.TransportError:
                time.sleep(0.1)
        self.stop()
        pytest.fail(f"uvicorn did not answer within {START_TIMEOUT} s:\n{self.log.read_text()}")

    def stop(self) -> None:
        """Stop the server and its workers (SIGTERM, then SIGKILL after 30 s)."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=30)
