"""The apps the ASGI and HTTP sections serve: one route, ``GET /api/items``, guarded variously.

The route is the example API's ``GET /api/items`` (examples/api.py), rebuilt
here so the benchmark does not move when the example does.  Variants:

* ``unprotected``: the route alone;
* ``noop-dependency`` / ``noop-sync-dependency``: the route with a FastAPI
  dependency that does nothing (``async def`` / plain ``def`` run in the
  threadpool): the cost of the dependency machinery itself;
* ``okta_bearer``: :class:`~okta_bearer.BearerAuthMiddleware` in front, the
  route unchanged (``request.user`` holds the claims);
* ``okta_bearer+scopes``: as the example: :func:`~okta_bearer.fastapi.protect`
  before the route (so it is an ``OktaBearerRoute``), and the route takes
  ``claims: Claims = require_scopes("items:read")``;
* ``okta_bearer+scopes-plain``: the same route on FastAPI's plain ``APIRoute``
  (declared before ``protect``, say): FastAPI resolves the dependency;
* ``okta_bearer`` with ``dpop=`` settings: the middleware accepting DPoP
  (RFC 9449) requests as well;
* ``pyjwt-dependency``: what users write without a library: an ``async def``
  dependency reading the header and calling ``jwt.decode`` with a preloaded key.
"""

from __future__ import annotations

from typing import Any

import jwt
from fastapi import Depends, FastAPI, HTTPException, Request

from okta_bearer import BearerAuthMiddleware, Claims, TokenVerifier
from okta_bearer.fastapi import protect, require_scopes

KINDS = (
    "unprotected",
    "noop-dependency",
    "noop-sync-dependency",
    "okta_bearer",
    "okta_bearer+scopes",
    "okta_bearer+scopes-plain",
    "pyjwt-dependency",
)
PATH = "/api/items"
ITEMS = [{"name": "first item", "owner": "system"}]


def build_app(
    kind: str,
    *,
    verifier: TokenVerifier | None = None,
    public_key: Any = None,
    issuer: str = "",
    audience: str = "",
    dpop: Any = None,
) -> FastAPI:
    """The app of one ``kind`` (module docstring); ``dpop``: the middleware's DPoP settings."""
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)

    if kind in ("unprotected", "okta_bearer"):

        @app.get(PATH)
        async def items() -> dict[str, Any]:
            return {"items": ITEMS}

    elif kind == "noop-dependency":

        async def nothing() -> None:
            return None

        @app.get(PATH)
        async def items_noop(_: None = Depends(nothing)) -> dict[str, Any]:
            return {"items": ITEMS}

    elif kind == "noop-sync-dependency":

        def nothing_sync() -> None:
            return None

        @app.get(PATH)
        async def items_noop_sync(_: None = Depends(nothing_sync)) -> dict[str, Any]:
            return {"items": ITEMS}

    elif kind in ("okta_bearer+scopes", "okta_bearer+scopes-plain"):
        if kind == "okta_bearer+scopes":
            assert verifier is not None
            protect(app, verifier, **({} if dpop is None else {"dpop": dpop}))

        @app.get(PATH)
        async def items_scoped(claims: Claims = require_scopes("items:read")) -> dict[str, Any]:
            return {"items": ITEMS}

    elif kind == "pyjwt-dependency":

        async def pyjwt_claims(request: Request) -> dict[str, Any]:
            scheme, _, token = request.headers.get("authorization", "").partition(" ")
            if scheme.lower() != "bearer" or not token:
                raise HTTPException(401, headers={"WWW-Authenticate": "Bearer"})
            try:
                claims: dict[str, Any] = jwt.decode(
                    token,
                    public_key,
                    algorithms=["RS256"],
                    audience=audience,
                    issuer=issuer,
                    leeway=30,
                )
            except jwt.PyJWTError as exc:
                raise HTTPException(401, headers={"WWW-Authenticate": "Bearer"}) from exc
            return claims

        @app.get(PATH)
        async def items_pyjwt(claims: dict[str, Any] = Depends(pyjwt_claims)) -> dict[str, Any]:
            return {"items": ITEMS}

    else:
        raise ValueError(f"unknown app kind {kind!r}; one of {', '.join(KINDS)}")

    if kind.startswith("okta_bearer") and kind != "okta_bearer+scopes":
        assert verifier is not None
        options: dict[str, Any] = {} if dpop is None else {"dpop": dpop}
        app.add_middleware(BearerAuthMiddleware, verifier=verifier, **options)
    return app
