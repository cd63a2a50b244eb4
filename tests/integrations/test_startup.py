"""A configuration mistake stops a real uvicorn at start-up, with its default settings."""

from __future__ import annotations

import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

EXIT_TIMEOUT = 60.0  # generous: the machine is shared; a healthy server would never exit

APPS = {
    "fastapi_add_middleware": (
        """
        from fastapi import FastAPI
        from okta_bearer import BearerAuthMiddleware

        app = FastAPI()
        app.add_middleware(BearerAuthMiddleware, issuer="https://dev-1.okta.com/oauth2/default")
        """,
        "audience",
    ),
    "starlette_middleware_list": (
        """
        from starlette.applications import Starlette
        from starlette.middleware import Middleware
        from okta_bearer import BearerAuthMiddleware

        app = Starlette(
            middleware=[
                Middleware(
                    BearerAuthMiddleware,
                    issuer="https://dev-1.okta.com/oauth2/default",
                    audience="api://default",
                    public_paths="/health",
                )
            ]
        )
        """,
        "public_paths",
    ),
    "fastapi_protect": (
        """
        from fastapi import FastAPI
        from okta_bearer.fastapi import protect

        app = FastAPI()
        protect(app, issuer="https://dev-1.okta.com/oauth2/default", audience="api://default",
                required_scopes="items:read")
        """,
        "required_scopes",
    ),
    "starlette_misspelt_option": (
        """
        from starlette.applications import Starlette
        from starlette.middleware import Middleware
        from okta_bearer import BearerAuthMiddleware

        app = Starlette(
            middleware=[
                Middleware(
                    BearerAuthMiddleware,
                    issuer="https://dev-1.okta.com/oauth2/default",
                    audience="api://default",
                    public_path=["/health"],
                )
            ]
        )
        """,
        "unknown option 'public_path'; did you mean 'public_paths'?",
    ),
    "fastapi_add_middleware_misspelt_option": (
        """
        from fastapi import FastAPI
        from okta_bearer import BearerAuthMiddleware

        app = FastAPI()
        app.add_middleware(
            BearerAuthMiddleware,
            issuer="https://dev-1.okta.com/oauth2/default",
            audience="api://default",
            requried_scopes=["items:read"],
        )
        """,
        "unknown option 'requried_scopes'; did you mean 'required_scopes'?",
    ),
    "fastapi_protect_misspelt_option": (
        """
        from fastapi import FastAPI
        from okta_bearer.fastapi import protect

        app = FastAPI()
        protect(app, issuer="https://dev-1.okta.com/oauth2/default", audience="api://default",
                public_path=["/health"])
        """,
        "protect() got an unknown option 'public_path'; did you mean 'public_paths'?",
    ),
}

# protect() raises where it is called, so uvicorn fails to import the app
# (status 1); middleware built by Starlette fails the lifespan start-up (3).
IMPORT_TIME = frozenset({"fastapi_protect", "fastapi_protect_misspelt_option"})


@pytest.mark.parametrize("name", sorted(APPS))
def test_uvicorn_exits_on_a_configuration_error(tmp_path: Path, name: str) -> None:
    """`uvicorn app:app` (lifespan auto) exits non-zero and prints the ConfigurationError."""
    source, option = APPS[name]
    (tmp_path / f"{name}.py").write_text(textwrap.dedent(source))
    command = [sys.executable, "-m", "uvicorn", f"{name}:app", "--app-dir", str(tmp_path)]
    command += ["--host", "127.0.0.1", "--port", "0"]
    try:
        result = subprocess.run(  # noqa: S603 - our own interpreter and module
            command, capture_output=True, text=True, timeout=EXIT_TIMEOUT, check=False
        )
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"uvicorn kept serving with a configuration error: {exc.stderr!r}")
    output = result.stdout + result.stderr
    assert result.returncode == (1 if name in IMPORT_TIME else 3), output
    assert "ConfigurationError" in output
    assert option in output
    assert "TypeError" not in output
    assert "Uvicorn running" not in output


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port  # nothing listens there once the socket is closed


def _unreachable_issuer_app(tmp_path: Path, startup_check: str) -> list[str]:
    issuer = f"http://127.0.0.1:{_closed_port()}/oauth2/default"
    source = f"""
        from fastapi import FastAPI
        from okta_bearer.fastapi import protect

        app = FastAPI()
        protect(app, issuer={issuer!r}, audience="api://default", startup_check={startup_check!r})
        """
    (tmp_path / "unreachable.py").write_text(textwrap.dedent(source))
    command = [sys.executable, "-m", "uvicorn", "unreachable:app", "--app-dir", str(tmp_path)]
    return [*command, "--host", "127.0.0.1", "--port", "0"]


def test_uvicorn_starts_and_logs_an_unreachable_issuer_at_error(tmp_path: Path) -> None:
    """By default the issuer check logs an ERROR line under plain uvicorn, then serves."""
    command = _unreachable_issuer_app(tmp_path, "warn")
    process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
        command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    lines: list[str] = []
    try:
        assert process.stderr is not None
        deadline = time.monotonic() + EXIT_TIMEOUT
        while time.monotonic() < deadline:
            line = process.stderr.readline()
            if not line:
                break
            lines.append(line)
            if "Uvicorn running" in line:
                break
    finally:
        process.terminate()
        process.communicate(timeout=EXIT_TIMEOUT)  # closes the pipe too
    output = "".join(lines)
    assert "Uvicorn running" in output, output
    assert "okta_bearer: start-up check failed: issuer http://127.0.0.1:" in output
    assert "hint: the host cannot be reached from here" in output
    assert "starting anyway" in output


def test_uvicorn_exits_on_an_unreachable_issuer_with_startup_check_exit(tmp_path: Path) -> None:
    """startup_check="exit" makes uvicorn exit with status 3, naming the issuer problem."""
    command = _unreachable_issuer_app(tmp_path, "exit")
    result = subprocess.run(  # noqa: S603 - our own interpreter and module
        command, capture_output=True, text=True, timeout=EXIT_TIMEOUT, check=False
    )
    output = result.stdout + result.stderr
    assert result.returncode == 3, output
    assert "start-up check failed" in output
    assert "Uvicorn running" not in output
