"""Serve ASGI apps with uvicorn on sockets bound up front, all in one event loop."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import signal
import socket
from collections.abc import Callable, Coroutine, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from ._common import DEFAULT_HOST, EXIT_OK, EXIT_REJECTED, CLIError


def bind(host: str, port: int, flag: str) -> socket.socket:
    """A TCP socket bound to ``host:port``, or a CLIError naming the port and the option."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        reason = "already in use" if exc.errno == errno.EADDRINUSE else exc.strerror
        raise CLIError(
            f"cannot listen on {host}:{port}: {reason}; choose another port with {flag}"
        ) from exc
    return sock


def url_host(host: str) -> str:
    """The host to put in a URL: a wildcard address becomes loopback, IPv6 gets brackets."""
    if host in ("0.0.0.0", "", "::"):  # noqa: S104 - only mapping a wildcard to a URL host
        return DEFAULT_HOST
    return f"[{host}]" if ":" in host else host


@dataclass
class Served:
    """An app to serve on an already bound socket."""

    name: str
    app: Any
    sock: socket.socket
    lifespan: Literal["auto", "on", "off"] = "auto"


def run_servers(
    served: Sequence[Served],
    *,
    log_level: str,
    on_ready: Callable[[], None],
    background: Sequence[Callable[[], Coroutine[Any, Any, None]]] = (),
) -> int:
    """Serve every app in one event loop until SIGINT/SIGTERM; 0 after a clean stop."""
    try:
        import uvicorn
    except ImportError as exc:
        for s in served:
            s.sock.close()
        raise CLIError("serving needs uvicorn: pip install 'okta-bearer[dev]'") from exc

    class Server(uvicorn.Server):
        # One signal handler for all servers (installed below), not one each.
        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            yield

    async def run() -> int:
        loop = asyncio.get_running_loop()
        servers = [
            Server(uvicorn.Config(s.app, log_level=log_level, lifespan=s.lifespan)) for s in served
        ]
        stop = asyncio.Event()

        def on_signal() -> None:
            if stop.is_set():  # a second Ctrl-C: stop waiting for open connections
                for server in servers:
                    server.force_exit = True
            stop.set()

        signals = (signal.SIGINT, signal.SIGTERM)
        for sig in signals:
            loop.add_signal_handler(sig, on_signal)
        tasks = [
            asyncio.create_task(server.serve(sockets=[s.sock]))
            for server, s in zip(servers, served, strict=True)
        ]
        extra: list[asyncio.Task[None]] = []
        try:
            while not all(server.started for server in servers):
                if any(task.done() for task in tasks):
                    return EXIT_REJECTED
                await asyncio.sleep(0.02)
            on_ready()
            extra = [asyncio.create_task(job()) for job in background]
            waiter = asyncio.create_task(stop.wait())
            await asyncio.wait([*tasks, waiter], return_when=asyncio.FIRST_COMPLETED)
            waiter.cancel()
            crashed = any(task.done() for task in tasks) and not stop.is_set()
            return EXIT_REJECTED if crashed else EXIT_OK
        finally:
            for server in servers:
                server.should_exit = True
            for job in extra:
                job.cancel()
            await asyncio.gather(*tasks, *extra, return_exceptions=True)
            for sig in signals:
                loop.remove_signal_handler(sig)

    try:
        return asyncio.run(run())
    finally:
        for s in served:
            s.sock.close()
