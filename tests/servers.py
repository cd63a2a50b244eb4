"""Real servers on 127.0.0.1 for the tests: one helper for threads, one for worker processes.

* :func:`serve` runs an ASGI app under ``uvicorn.Server`` in a background
  thread on a socket bound to port 0 (no window for another process to take
  the port), and stops it when the ``with`` block ends.  An app that must know
  its own URL before it is built (an issuer signs ``iss``, a resource names
  itself) binds first with :func:`loopback_socket`, reads :func:`origin_of`,
  and passes the socket as ``sock=``.
* :class:`UvicornProcess` runs ``uvicorn module:app --workers N`` as a
  subprocess, for state that must hold across processes.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import httpx
import pytest
import uvicorn
from starlette.types import ASGIApp

from okta_bearer.dev_issuer import DevClient, DevIssuer
from okta_bearer.testing import LocalIssuer

ROOT = Path(__file__).resolve().parents[1]
START_TIMEOUT = 60.0  # generous: the CI machine is shared


def free_port() -> int:
    """A loopback TCP port the OS reports as free right now (nothing listens on it)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def loopback_socket() -> socket.socket:
    """A TCP socket bound to a free port on 127.0.0.1, not yet listening."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


def origin_of(sock: socket.socket) -> str:
    """``http://127.0.0.1:<port>`` for a socket from :func:`loopback_socket`."""
    return f"http://127.0.0.1:{sock.getsockname()[1]}"


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


def start_server(
    app: ASGIApp,
    *,
    sock: socket.socket | None = None,
    root_path: str = "",
    lifespan: Literal["auto", "on", "off"] = "off",
) -> Server:
    """Serve ``app`` with uvicorn on 127.0.0.1 in a background thread; wait until it listens.

    ``sock`` is a socket from :func:`loopback_socket` (one is bound when it is
    ``None``); the server owns it from here and closes it when it stops.
    """
    if sock is None:
        sock = loopback_socket()
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app,
        log_level="warning",
        lifespan=lifespan,
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
def serve(
    app: ASGIApp,
    *,
    sock: socket.socket | None = None,
    root_path: str = "",
    lifespan: Literal["auto", "on", "off"] = "off",
) -> Iterator[Server]:
    """``with serve(app) as server:`` a threaded uvicorn for the block's duration."""
    server = start_server(app, sock=sock, root_path=root_path, lifespan=lifespan)
    try:
        yield server
    finally:
        server.stop()


class UvicornProcess:
    """``python -m uvicorn <app> --workers N`` on a free loopback port, as a subprocess.

    Its output goes to ``log`` (read it in assertion messages). ``env`` is added
    to this process's environment; ``factory`` says ``app`` names a function
    that builds the app (uvicorn's ``--factory``).  The app must answer
    ``GET /health`` without a token: that is how start-up is detected.
    """

    def __init__(
        self,
        app: str,
        *,
        workers: int,
        env: Mapping[str, str],
        log: Path,
        factory: bool = False,
    ) -> None:
        self.port = free_port()
        self.log = log
        command = [
            sys.executable, "-m", "uvicorn", app, "--host", "127.0.0.1",
            "--port", str(self.port), "--workers", str(workers), "--log-level", "warning",
        ]  # fmt: skip
        if factory:
            command.append("--factory")
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
        wait_until_healthy(self.process, self.base_url, "uvicorn", self.log.read_text, self.stop)

    def stop(self) -> None:
        """Stop the server and its workers (SIGTERM, then SIGKILL after 30 s)."""
        stop_process(self.process, grace=30)


class GunicornProcess:
    """``python -m gunicorn <app> --workers N --worker-class K`` on a free loopback port.

    As :class:`UvicornProcess`: output to ``log``, ``env`` added to this
    process's environment, and the app answers ``GET /health`` without a token.
    """

    def __init__(
        self,
        app: str,
        *,
        workers: int,
        worker_class: Literal["sync", "gthread"],
        env: Mapping[str, str],
        log: Path,
        threads: int | None = None,
    ) -> None:
        # gunicorn turns a "sync" worker given more than one thread into a
        # gthread worker: sync means one thread, unless a test says otherwise.
        if threads is None:
            threads = 1 if worker_class == "sync" else 8
        self.port = free_port()
        self.log = log
        command = [
            sys.executable, "-m", "gunicorn", app, "--bind", f"127.0.0.1:{self.port}",
            "--workers", str(workers), "--worker-class", worker_class,
            "--threads", str(threads), "--log-level", "warning", "--graceful-timeout", "5",
            # The app is imported once and forked (what many deployments do, and
            # four imports at once are slow on a shared machine); every state
            # the verifier keeps is created lazily, so each process has its own.
            "--preload",
            # gunicorn 23+ opens a control socket at one fixed path per user:
            # several servers at once (tests in parallel) would fight over it.
            "--no-control-socket",
        ]  # fmt: skip
        with log.open("ab") as out:
            self.process = subprocess.Popen(  # noqa: S603 - our own fixed command
                command, cwd=ROOT, env={**os.environ, **env}, stdout=out, stderr=out
            )
        wait_until_healthy(self.process, self.base_url, "gunicorn", self.log.read_text, self.stop)

    @property
    def base_url(self) -> str:
        """The HTTP origin of the server."""
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        """Stop the arbiter and its workers: SIGINT (a quick shutdown), SIGKILL after 10 s."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        stop_process(self.process, grace=10)


def wait_until_healthy(
    process: subprocess.Popen[bytes],
    base_url: str,
    what: str,
    output: Callable[[], str],
    stop: Callable[[], None],
    timeout: float = START_TIMEOUT,
) -> None:
    """Wait until ``GET {base_url}/health`` answers; fail with ``output()`` if ``process`` exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"{what} exited:\n{output()}")
        try:
            httpx.get(base_url + "/health", timeout=1, trust_env=False)
            return
        except httpx.TransportError:
            time.sleep(0.05)
    stop()
    pytest.fail(f"{what} did not answer within {timeout} s:\n{output()}")


def stop_process(process: subprocess.Popen[bytes], *, grace: float) -> None:
    """SIGTERM ``process``, then SIGKILL if it has not exited after ``grace`` seconds."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=grace)


@contextlib.contextmanager
def running_dev_issuer() -> Iterator[DevIssuer]:
    """A dev issuer (one client, ``0oaclitest``; user alice/wonderland) served by
    uvicorn on a free loopback port, for the CLI tests."""
    sock = loopback_socket()
    local = LocalIssuer(f"{origin_of(sock)}/oauth2/default")
    dev = DevIssuer(local, clients=[DevClient("0oaclitest", ("http://127.0.0.1:1/",))])
    with serve(dev, sock=sock):
        yield dev
