"""Debian's nginx as a round-robin load balancer on a free loopback port (a plain process).

Installed by .ci/install-lb.sh.  Everything nginx writes (pid, logs, temp
files) stays in the test's temp dir: ``-p`` sets the prefix, ``-e`` the
start-up error log, ``daemon off`` keeps it our child so ``stop`` ends it.
Every answer names the host that served it in ``x-upstream`` (its
``127.0.0.1:port``), and a request is sent to one host only
(``proxy_next_upstream off``): the balancer never retries a DPoP proof
on another host by itself.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from ..servers import free_port

START_TIMEOUT = 20.0


def nginx_binary() -> str:
    """The nginx executable (/usr/sbin is not on every user's PATH)."""
    found = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/usr/local/sbin")
    if found is None:
        pytest.fail("nginx is not installed: run .ci/install-lb.sh")
    return found


def _config(workdir: Path, port: int, upstreams: list[str]) -> str:
    servers = "".join(f"        server {address};\n" for address in upstreams)
    # Workers of a root master run as `user`: root here, so they may use the temp dir.
    user = "user root;\n" if os.geteuid() == 0 else ""
    temp = "".join(
        f"    {kind}_temp_path {workdir / kind};\n"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return f"""{user}daemon off;
worker_processes 1;
pid {workdir / "nginx.pid"};
error_log {workdir / "error.log"} warn;
events {{ worker_connections 512; }}
http {{
    access_log {workdir / "access.log"};
{temp}    upstream hosts {{
{servers}    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://hosts;
            proxy_set_header Host $http_host;
            proxy_next_upstream off;
            proxy_read_timeout 60s;
            add_header x-upstream $upstream_addr always;
        }}
    }}
}}
"""


class Balancer:
    """nginx in front of ``upstreams`` (``host:port``), round robin, on a free loopback port."""

    def __init__(self, workdir: Path, upstreams: list[str]) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        self.workdir = workdir
        self.port = free_port()
        config = workdir / "nginx.conf"
        config.write_text(_config(workdir, self.port, upstreams))
        self.log = workdir / "error.log"
        command = [nginx_binary(), "-p", str(workdir), "-e", str(self.log), "-c", str(config)]
        with (workdir / "nginx.out").open("ab") as out:
            self.process = subprocess.Popen(command, stdout=out, stderr=out)  # noqa: S603
        self._wait_until_up()

    @property
    def base_url(self) -> str:
        """The balancer's HTTP origin: what clients (and DPoP proofs' ``htu``) address."""
        return f"http://127.0.0.1:{self.port}"

    def _wait_until_up(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"nginx exited:\n{(self.workdir / 'nginx.out').read_text()}")
            try:
                httpx.get(self.base_url + "/health", timeout=1, trust_env=False)
                return
            except httpx.TransportError:
                time.sleep(0.05)
        self.stop()
        pytest.fail(f"nginx did not answer within {START_TIMEOUT} s")

    def stop(self) -> None:
        """Stop nginx (SIGTERM: a fast shutdown), then SIGKILL after 10 s."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
