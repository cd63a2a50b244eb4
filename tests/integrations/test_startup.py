"""A configuration mistake stops a real uvicorn at start-up, with its default settings."""

from __future__ import annotations

import subprocess
import sys
import textwrap
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
}


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
    assert result.returncode != 0, output
    assert "ConfigurationError" in output
    assert option in output
    assert "Uvicorn running" not in output
