"""Start `okta-bearer demo` as a subprocess on free ports and read the URLs it prints."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

START_TIMEOUT = 90.0  # generous: CI machines are shared and slow


@dataclass
class Demo:
    """A running demo: its process, the URLs it printed, and everything it wrote."""

    process: subprocess.Popen[str]
    spa: str = ""
    docs: str = ""
    issuer: str = ""
    user: str = ""
    password: str = ""
    output: list[str] = field(default_factory=list)

    @property
    def api(self) -> str:
        """The API's base URL."""
        return self.docs.removesuffix("/docs")

    def stop(self) -> int:
        """Send SIGINT (Ctrl-C) and wait for the exit status."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        return self.process.wait(timeout=60)


def _reader(demo: Demo, ready: threading.Event) -> None:
    assert demo.process.stdout is not None
    for line in demo.process.stdout:
        demo.output.append(line.rstrip("\n"))
        if line.startswith("Press Ctrl-C"):
            ready.set()
    ready.set()


@contextlib.contextmanager
def run_demo(*extra: str, command: Sequence[str] = (), cwd: Path | None = None) -> Iterator[Demo]:
    """Run the demo on ports chosen by the OS; stop it with SIGINT after.

    ``command`` replaces ``python -m okta_bearer`` (e.g. an installed
    ``okta-bearer`` script); ``cwd`` is where it runs.
    """
    argv = [*(command or (sys.executable, "-m", "okta_bearer")), "demo"]
    argv += ["--issuer-port", "0", "--api-port", "0", "--spa-port", "0", *extra]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    if command:
        env.pop("PYTHONPATH", None)
    process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
        argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=cwd
    )
    demo = Demo(process)
    ready = threading.Event()
    thread = threading.Thread(target=_reader, args=(demo, ready), daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while not ready.wait(0.1):
            assert time.monotonic() < deadline, "demo did not start:\n" + "\n".join(demo.output)
        text = "\n".join(demo.output)
        assert process.poll() is None, "demo exited early:\n" + text
        demo.spa = _find(r"SPA:\s+(\S+)", text)
        demo.docs = _find(r"API docs:\s+(\S+)", text)
        demo.issuer = _find(r"Issuer:\s+(\S+)", text)
        demo.user, demo.password = _find(r"Sign in as (\S+ / \S+)", text).split(" / ")
        yield demo
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        thread.join(timeout=10)
        if process.stdout is not None:
            process.stdout.close()


def _find(pattern: str, text: str) -> str:
    match = re.search(pattern, text)
    assert match is not None, f"{pattern!r} not in demo output:\n{text}"
    return match.group(1)
