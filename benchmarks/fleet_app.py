"""The API of the fleet load run, one copy per uvicorn worker: ``benchmarks.fleet_app:build``.

Environment (set by ``benchmarks/fleet_load.py``): ``FLEET_SPEC`` (JSON file:
issuer, audience, kid, PEM of the parent's LocalIssuer, so its tokens verify
here; keys come through the issuer's in-memory transport), ``FLEET_REDIS_URL``
(the shared store: key sets and DPoP replay marks) and ``FLEET_DPOP_MAX_AGE``
(when set, DPoP is on in ``allowed`` mode with that proof age, replay marks in
Redis).
"""

from __future__ import annotations

import json
import os
from typing import Any

from cryptography.hazmat.primitives.serialization import load_pem_private_key
from fastapi import FastAPI

from okta_bearer.redis_store import RedisStore
from okta_bearer.testing import LocalIssuer, SigningKey

from .apps import build_app


def build() -> FastAPI:
    """The benchmark route behind the middleware, sharing keys (and DPoP marks) through Redis."""
    with open(os.environ["FLEET_SPEC"], encoding="utf-8") as handle:
        spec = json.load(handle)
    private_key = load_pem_private_key(spec["pem"].encode(), password=None)
    issuer = LocalIssuer(spec["issuer"], spec["audience"])
    issuer.keys = [SigningKey(spec["kid"], "RS256", private_key)]
    url = os.environ["FLEET_REDIS_URL"]
    verifier = issuer.verifier(store=RedisStore(url))
    dpop: Any = None
    max_age = os.environ.get("FLEET_DPOP_MAX_AGE")
    if max_age:
        from okta_bearer._dpop.settings import DPoPSettings

        dpop = DPoPSettings(mode="allowed", store=RedisStore(url), max_age=float(max_age))
    return build_app("okta_bearer", verifier=verifier, dpop=dpop)
