"""The path a real gunicorn hands the app is the path judged (one sync worker on loopback)."""

from __future__ import annotations

import socket
from pathlib import Path

from ..servers import GunicornProcess


def raw_get(port: int, target: str, headers: str = "") -> bytes:
    """Send ``GET target`` as written (no client normalising it) and return the status line."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        request = f"GET {target} HTTP/1.1\r\nHost: api\r\nConnection: close\r\n{headers}\r\n"
        sock.sendall(request.encode("latin-1"))
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return answer.partition(b"\r\n")[0]


def test_a_script_name_header_cut_mid_segment_reaches_no_protected_view(tmp_path: Path) -> None:
    """gunicorn's SCRIPT_NAME header "/docs/" on "/docs/admin" is judged as /admin: 401."""
    server = GunicornProcess(
        "tests.flask.gunicorn_paths_app:app",
        workers=1,
        worker_class="sync",
        env={},
        log=tmp_path / "gunicorn.log",
    )
    try:
        assert raw_get(server.port, "/admin").startswith(b"HTTP/1.1 401")
        cut = raw_get(server.port, "/docs/admin", "SCRIPT_NAME: /docs/\r\n")
        assert cut.startswith(b"HTTP/1.1 401"), cut
    finally:
        server.stop()
