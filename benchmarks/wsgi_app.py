"""The Flask apps the WSGI section serves under gunicorn (``BENCH_KIND``, ``BENCH_SPEC``).

``unprotected``: the route alone; ``okta_bearer``: the same route behind
``BearerAuth`` (it reads ``current_claims``); ``okta_bearer+scopes``: also
``@require_scopes("items:read")``.  The spec file holds the issuer, audience,
``kid`` and PEM private key of the parent's ``LocalIssuer``, so tokens the
parent mints verify here; keys come through the issuer's in-memory transport.
"""

from __future__ import annotations

import json
import os
from typing import Any

from cryptography.hazmat.primitives.serialization import load_pem_private_key
from flask import Flask

from okta_bearer.flask import BearerAuth, current_claims, require_scopes
from okta_bearer.testing import LocalIssuer, SigningKey

# The path the HTTP section's load helpers request (benchmarks/apps.py).
PATH = "/api/items"
KINDS = ("unprotected", "okta_bearer", "okta_bearer+scopes")


def create_app(kind: str, spec_file: str) -> Flask:
    """One benchmark app of ``kind``."""
    app = Flask("bench")
    if kind == "unprotected":

        @app.get(PATH)
        def items() -> dict[str, Any]:
            return {"items": ["first item"], "caller": "anonymous"}

        return app
    with open(spec_file, encoding="utf-8") as handle:
        spec = json.load(handle)
    issuer = LocalIssuer(spec["issuer"], spec["audience"])
    private_key = load_pem_private_key(spec["pem"].encode(), password=None)
    issuer.keys = [SigningKey(spec["kid"], "RS256", private_key)]
    BearerAuth(app, verifier=issuer.verifier())

    def protected() -> dict[str, Any]:
        return {"items": ["first item"], "caller": current_claims.sub}

    view = require_scopes("items:read")(protected) if kind.endswith("+scopes") else protected
    app.add_url_rule(PATH, "items", view)
    return app


app = create_app(os.environ.get("BENCH_KIND", "unprotected"), os.environ.get("BENCH_SPEC", ""))
