"""A Flask API protected by okta_bearer: the extension, scopes, step-up and a public route.

Run it against its own dev issuer, in one command (``pip install -e '.[flask,dev]'``)::

    python examples/flask_app.py          # dev issuer on :9400, the API on :9404

then call it from another terminal::

    curl -i http://127.0.0.1:9404/items                                   # 401, a bare challenge
    curl -H "Authorization: Bearer $(okta-bearer mint)" http://127.0.0.1:9404/items
    curl -i -X POST -H "Authorization: Bearer $(okta-bearer mint)" http://127.0.0.1:9404/items
    # 403 insufficient_scope, scope="items:write"; mint --scope items:write gets a 201

Against a real Okta org, under gunicorn (the app is built by :func:`create_app`
from ``OKTA_ISSUER`` and ``OKTA_AUDIENCE``)::

    OKTA_ISSUER=https://dev-123456.okta.com/oauth2/default OKTA_AUDIENCE=api://default \\
        gunicorn -w 4 'flask_app:create_app()' --chdir examples

Routes:

* ``GET /items``: needs ``items:read`` (the whole app requires it);
* ``POST /items``: needs ``items:write`` as well (``@require_scopes``);
* ``DELETE /items/<name>``: also a two-factor sign-in at most five minutes old
  (RFC 9470 step-up, ``@require_auth``): otherwise a 401
  ``insufficient_user_authentication`` naming ``acr_values`` and ``max_age``;
* ``GET /health``: public (``@public``).
"""

from __future__ import annotations

import argparse
import os
import threading
import time
from typing import Any

from flask import Flask

from okta_bearer import TokenVerifier
from okta_bearer.flask import BearerAuth, current_claims, public, require_auth, require_scopes

TWO_FACTOR = "urn:okta:loa:2fa:any"


def create_app(
    issuer: str | None = None, audience: str | None = None, *, verifier: Any = None
) -> Flask:
    """The API; ``verifier`` lets tests inject one (else one is built for ``issuer``)."""
    issuer = issuer or os.environ.get("OKTA_ISSUER", "http://127.0.0.1:9400/oauth2/default")
    audience = audience or os.environ.get("OKTA_AUDIENCE", "api://default")
    app = Flask(__name__)
    items = ["first item"]
    BearerAuth(
        app,
        verifier=verifier or TokenVerifier(issuer, audience),
        required_scopes=["items:read"],
    )

    @app.get("/items")
    def list_items() -> dict[str, Any]:
        return {"items": items, "caller": current_claims.sub or current_claims.client_id}

    @app.post("/items")
    @require_scopes("items:write")
    def add_item() -> tuple[dict[str, Any], int]:
        items.append(f"item {len(items) + 1}")
        return {"items": items}, 201

    @app.delete("/items/<name>")
    @require_auth("items:write", acr_values=[TWO_FACTOR], max_age=300)
    def remove_item(name: str) -> dict[str, Any]:
        if name in items:
            items.remove(name)
        return {"items": items}

    @app.get("/health")
    @public
    def health() -> dict[str, bool]:
        return {"ok": True}

    return app


def main(issuer_port: int = 9400, port: int = 9404) -> None:
    """Serve a dev issuer (a thread) and the API (Flask's threaded server) on loopback."""
    import uvicorn

    from okta_bearer.dev_issuer import DevIssuer
    from okta_bearer.testing import LocalIssuer

    issuer = f"http://127.0.0.1:{issuer_port}/oauth2/default"
    dev = DevIssuer(LocalIssuer(issuer))
    server = uvicorn.Server(
        uvicorn.Config(dev, host="127.0.0.1", port=issuer_port, log_level="warning")
    )
    threading.Thread(target=server.run, name="dev-issuer", daemon=True).start()
    while not server.started:  # the API fetches the issuer's keys as it is built
        time.sleep(0.05)
    print(f"API: http://127.0.0.1:{port}/items  (issuer {issuer})", flush=True)
    create_app(issuer, "api://default").run(host="127.0.0.1", port=port, threaded=True)


def cli(argv: list[str] | None = None) -> None:
    """``python examples/flask_app.py [--issuer-port N] [--port N]``."""
    parser = argparse.ArgumentParser(description="A Flask API and its dev issuer, on loopback.")
    parser.add_argument("--issuer-port", type=int, default=9400, help="dev issuer (%(default)s)")
    parser.add_argument("--port", type=int, default=9404, help="the API (%(default)s)")
    args = parser.parse_args(argv)
    main(args.issuer_port, args.port)


if __name__ == "__main__":
    cli()
