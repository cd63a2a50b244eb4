"""The troubleshooting page's logging lines make refusals visible under plain `uvicorn app:app`."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import httpx
import pytest

PAGE = Path(__file__).parents[2] / "docs" / "troubleshooting.md"
TIMEOUT = 60.0  # generous: the machine is shared

APP = """
from starlette.applications import Starlette
from okta_bearer import BearerAuthMiddleware

app = BearerAuthMiddleware(
    Starlette(), issuer="https://dev-1.okta.com/oauth2/default", audience="api://default",
    startup_check="off",
)
"""


def documented_logging_block() -> str:
    """The first Python block of the page's "See the refusals" section."""
    section = PAGE.read_text(encoding="utf-8").split("## See the refusals", 1)[1]
    match = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert match is not None
    return match.group(1)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def serve_and_refuse(tmp_path: Path, prelude: str) -> str:
    """Run `uvicorn app:app`, send one request without a token, return what uvicorn printed."""
    (tmp_path / "app.py").write_text(prelude + textwrap.dedent(APP))
    port = _free_port()
    command = [sys.executable, "-m", "uvicorn", "app:app", "--app-dir", str(tmp_path)]
    command += ["--host", "127.0.0.1", "--port", str(port)]
    with subprocess.Popen(  # noqa: S603 - our own interpreter and module
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    ) as process:
        try:
            deadline = time.monotonic() + TIMEOUT
            while True:
                try:
                    response = httpx.get(f"http://127.0.0.1:{port}/items", trust_env=False)
                    break
                except httpx.TransportError:
                    if time.monotonic() > deadline or process.poll() is not None:
                        pytest.fail("uvicorn did not start")
                    time.sleep(0.2)
            assert response.status_code == 401
        finally:
            process.terminate()
            output, _ = process.communicate(timeout=TIMEOUT)
    return output


def test_the_documented_lines_show_refusals_under_uvicorn(tmp_path: Path) -> None:
    """With the page's two lines, uvicorn prints the refusal with its reason code."""
    output = serve_and_refuse(tmp_path, documented_logging_block())
    assert "INFO:     okta_bearer: refused GET '/items': 401 no credentials (missing_token)" in (
        output
    )


def test_without_them_uvicorn_prints_no_refusal(tmp_path: Path) -> None:
    """Without logging configured, the refusal is not printed: why the page shows the lines."""
    output = serve_and_refuse(tmp_path, "")
    assert '"GET /items HTTP/1.1" 401' in output  # the request did reach the server
    assert "okta_bearer: refused" not in output
