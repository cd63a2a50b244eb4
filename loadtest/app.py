"""The API under load: the example FastAPI app (``examples/api.py``), served by uvicorn.

``loadtest/run.py`` starts it as ``uvicorn --factory app:build``; the issuer and
key-cache settings come from environment variables set by the runner.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable
from pathlib import Path

from fastapi import FastAPI

from okta_bearer import KeyPolicy, TokenVerifier

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "api.py"


def _example_factory() -> Callable[..., FastAPI]:
    # examples/ is not a package: load api.py by path.
    spec = importlib.util.spec_from_file_location("okta_bearer_example_api", EXAMPLE)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    factory: Callable[..., FastAPI] = module.create_app
    return factory


def build() -> FastAPI:
    """The example API, verifying tokens of ``LOADTEST_ISSUER`` with the runner's settings."""
    issuer = os.environ["LOADTEST_ISSUER"]
    audience = os.environ.get("LOADTEST_AUDIENCE", "api://default")
    verifier = TokenVerifier(
        issuer,
        audience,
        # Honour the key server's short max-age, so refreshes (and failed
        # refreshes while it is down) happen within a one-minute run.
        keys=KeyPolicy(
            min_ttl=float(os.environ.get("LOADTEST_KEYS_MIN_TTL", "1")),
            default_ttl=max(3600.0, float(os.environ.get("LOADTEST_KEYS_MIN_TTL", "1"))),
            timeout=float(os.environ.get("LOADTEST_TIMEOUT", "2")),
        ),
        token_cache_size=int(os.environ.get("LOADTEST_TOKEN_CACHE_SIZE", "4096")),
    )
    return _example_factory()(issuer=issuer, audience=audience, verifier=verifier)
