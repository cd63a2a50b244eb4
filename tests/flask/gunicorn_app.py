"""The Flask API each gunicorn worker runs in the real-server tests (configured by environment).

``GUNI_ISSUER`` names the issuer (a key server over real HTTP); with
``GUNI_REDIS_URL`` the workers share key sets and DPoP replay marks through
that redis-server (``RedisStore``), else each process keeps its own.  Every
answer, refusals included, names the worker's pid in ``X-Worker-Pid``, so a
test can see which process answered.  ``GUNI_STARTUP_CHECK`` is the
extension's ``startup_check`` (default ``"off"``: the workers start cold).
"""

from __future__ import annotations

import os
from typing import Any

from flask import Flask, Response

from okta_bearer import DPoPSettings, KeyPolicy, MemoryStore, TokenVerifier
from okta_bearer.flask import BearerAuth, current_claims, public

PID = str(os.getpid())


def create_app() -> Flask:
    """One worker's app: ``/`` is protected, ``/health`` public."""
    redis_url = os.environ.get("GUNI_REDIS_URL")
    store: Any = MemoryStore()
    if redis_url:
        from okta_bearer.redis_store import RedisStore

        store = RedisStore(redis_url, timeout=0.5)
    verifier = TokenVerifier(
        os.environ["GUNI_ISSUER"],
        "api://default",
        keys=KeyPolicy(timeout=2.0),
        store=store if redis_url else None,
    )
    app = Flask("gunicorn_app")
    BearerAuth(
        app,
        verifier=verifier,
        dpop=DPoPSettings(store=store, retry_after=3),
        startup_check=os.environ.get("GUNI_STARTUP_CHECK", "off"),  # type: ignore[arg-type]
    )

    @app.get("/")
    def whoami() -> dict[str, Any]:
        return {"sub": current_claims.sub, "jkt": current_claims.jkt, "pid": PID}

    @app.get("/health")
    @public
    def health() -> dict[str, str]:
        return {"pid": PID}

    @app.after_request
    def name_the_worker(response: Response) -> Response:
        # Refusals pass here too: Flask finalises a before_request answer.
        response.headers["X-Worker-Pid"] = str(os.getpid())
        return response

    return app


app = create_app()
