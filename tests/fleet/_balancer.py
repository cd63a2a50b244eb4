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
from pathlib import Path

from ..bootstrap import CI_DIR, ensure
from ..servers import free_port, stop_process, wait_until_healthy

START_TIMEOUT = 20.0


def _find_nginx() -> str | None:
    # /usr/sbin is not on every user's PATH.
    return shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/usr/local/sbin")


def nginx_binary() -> str:
    """The nginx executable, installed by .ci/install-lb.sh on first use (never a skip)."""
    ensure("nginx", lambda: _find_nginx() is not None, CI_DIR / "install-lb.sh")
    found = _find_nginx()
    assert found is not None
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
        def output() -> str:
            return (self.workdir / "nginx.out").read_text()

        wait_until_healthy(self.process, self.base_url, "nginx", output, self.stop, START_TIMEOUT)

    def stop(self) -> None:
        """Stop nginx (SIGTERM: a fast shutdown), then SIGKILL after 10 s."""
        stop_process(self.process, grace=10)
