"""A Flask API for gunicorn path tests: ``/docs/`` is a public prefix, ``/admin`` is protected.

The verifier is the testing kit's, in memory: these tests send no valid token,
they check what is reached without one.
"""

from __future__ import annotations

from flask import Flask, g

from okta_bearer.flask import BearerAuth, public
from okta_bearer.testing import LocalIssuer

app = Flask("gunicorn_paths_app")
BearerAuth(app, verifier=LocalIssuer().verifier(), public_paths=["/docs/"])


@app.get("/admin")
def admin() -> dict[str, bool]:
    """Protected: reached only with a token."""
    return {"signed_in": g.claims is not None}


@app.get("/health")
@public
def health() -> dict[str, bool]:
    """Public: what the test harness waits for."""
    return {"ok": True}
