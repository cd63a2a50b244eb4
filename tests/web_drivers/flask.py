"""The Flask driver: BearerAuth on a Flask app, called as a WSGI server calls it.

Requests are turned into a WSGI environ the way gunicorn builds one: the
path percent-decoded into ``PATH_INFO`` (latin-1 text), the request target
as sent in ``RAW_URI``, and repeated header fields joined with ``,``
(``Authorization: a`` and ``Authorization: b`` become ``HTTP_AUTHORIZATION="a,b"``).
"""

from __future__ import annotations

import functools
import io
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import unquote_to_bytes

import anyio
import httpx
from flask import Flask
from werkzeug.test import run_wsgi_app

from okta_bearer.flask import BearerAuth, current_claims, require_auth

from . import StepUp, identity

_DEFAULT_PORT = {"http": "80", "https": "443"}


def environ(
    method: str, target: str, headers: list[tuple[bytes, bytes]], base_url: str
) -> dict[str, Any]:
    """The WSGI environ gunicorn would build for this request."""
    url = httpx.URL(base_url)
    raw_path, _, query = target.partition("?")
    env: dict[str, Any] = {
        "REQUEST_METHOD": method,
        "SCRIPT_NAME": "",
        "PATH_INFO": unquote_to_bytes(raw_path).decode("latin-1"),
        "QUERY_STRING": query,
        "RAW_URI": target,
        "SERVER_NAME": url.host,
        "SERVER_PORT": str(url.port or _DEFAULT_PORT[url.scheme]),
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "REMOTE_PORT": "40000",
        "HTTP_HOST": url.netloc.decode("ascii"),
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": url.scheme,
        "wsgi.input": io.BytesIO(b""),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }
    seen: set[str] = set()
    for name, value in headers:
        key = name.decode("latin-1").upper().replace("-", "_")
        if key not in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            key = "HTTP_" + key
        text = value.decode("latin-1")
        # The first field replaces a default (Host); a repeated one is joined.
        env[key] = f"{env[key]},{text}" if key in seen else text
        seen.add(key)
    return env


class _Client:
    def __init__(self, app: Flask, base_url: str) -> None:
        self.app = app
        self.base_url = base_url

    async def request(
        self, method: str, target: str, headers: list[tuple[bytes, bytes]]
    ) -> httpx.Response:
        env = environ(method, target, headers, self.base_url)
        # In a worker thread, as a WSGI server runs a request: no event loop there.
        body, status, answer = await anyio.to_thread.run_sync(
            functools.partial(run_wsgi_app, self.app.wsgi_app, env, buffered=True)
        )
        content = b"".join(body)
        return httpx.Response(int(status.split(" ", 1)[0]), headers=list(answer), content=content)


@asynccontextmanager
async def app(
    verifier: Any,
    *,
    base_url: str = "http://api.test",
    step_up: StepUp | None = None,
    **options: Any,
) -> AsyncIterator[_Client]:
    """Serve the common routes behind BearerAuth (exceptions propagate: a 500 fails loudly)."""
    step_up = step_up or StepUp()
    flask_app = Flask("okta_bearer_web_driver")
    flask_app.testing = True
    # Cold, as the ASGI driver's app (no lifespan) and the Django driver's: the
    # fault tables test the first requests' fetches; tests/flask tests the check.
    options.setdefault("startup_check", "off")
    BearerAuth(flask_app, verifier=verifier, **options)

    def echo() -> dict[str, str]:
        return identity(current_claims)

    @require_auth(acr_values=step_up.acr_values, max_age=step_up.max_age, clock=step_up.clock)
    def stepped() -> dict[str, str]:
        return identity(current_claims)

    flask_app.add_url_rule("/", "root", echo)
    flask_app.add_url_rule("/items", "items", echo)
    flask_app.add_url_rule("/stepup", "stepup", stepped)
    try:
        yield _Client(flask_app, base_url)
    finally:
        verifier.close()
