"""One protected app, built on every web framework okta_bearer supports, behind one interface.

The hostile-input tables (``tests/security/``) run each row through every
driver in :data:`DRIVERS`, with the same expected status and challenge: the
same options must mean the same answer on ASGI, Flask (and Django).

A driver is an async context manager factory::

    async with DRIVERS["flask"](verifier, base_url=..., step_up=StepUp(...), **options) as app:
        response = await app.request("GET", "/items", [(b"authorization", b"Bearer ...")])

``options`` are the options of :class:`~okta_bearer.BearerAuthMiddleware` (the
same for every driver).  ``request`` sends the method, the request target
(path and query, sent as is) and the raw header pairs (repeated names stay
repeated on ASGI; a WSGI driver joins them with ``,`` as gunicorn does), and
returns the answer as an ``httpx.Response`` (status, headers, body).  Every
driver's app has the same routes:

* ``/`` and ``/items``: echo ``{"sub": <subject or client id>}``;
* ``/stepup``: the same, behind the framework's ``require_auth`` with
  :class:`StepUp`'s ``acr_values``/``max_age``/``clock`` (RFC 9470).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx

__all__ = ["DRIVERS", "App", "Driver", "StepUp"]


@dataclass(frozen=True)
class StepUp:
    """The requirement of the ``/stepup`` route."""

    acr_values: tuple[str, ...] = ("urn:okta:loa:2fa:any",)
    max_age: int | None = 300
    clock: Callable[[], float] = field(default=time.time)


class App(Protocol):
    """A protected app, ready for requests."""

    async def request(
        self, method: str, target: str, headers: list[tuple[bytes, bytes]]
    ) -> httpx.Response:
        """Send one request; the answer's status, headers and body."""
        ...


Driver = Callable[..., AbstractAsyncContextManager[App]]


def identity(claims: Any) -> dict[str, str]:
    """What every route answers: the caller's subject or client id."""
    return {"sub": claims.sub or claims.client_id or ""}


def _drivers() -> dict[str, Driver]:
    from . import asgi, django, flask

    return {"asgi": asgi.app, "flask": flask.app, "django": django.app}


#: Every framework's driver, by name (the parametrize ids of the tables).
DRIVERS: dict[str, Driver] = _drivers()
