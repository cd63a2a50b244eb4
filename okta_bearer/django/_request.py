"""One Django request judged once: the verdict kept on the request, answers as ``HttpResponse``.

The middleware judges every request at the edge; a DRF authentication class
on a view behind it reads the same verdict instead of verifying the token a
second time, and judges the request itself only when the middleware is not
installed.
"""

from __future__ import annotations

from collections.abc import Iterable, MutableMapping
from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest, HttpResponse

from .._errors import BearerError
from .._http.gate import Gate, Verdict
from .._http.responses import ErrorResponse
from .._http.scope import scope_from_environ
from . import _conf

__all__ = [
    "Judged",
    "add_headers",
    "as_django",
    "judge",
    "judged",
    "judged_by_middleware",
    "refusal",
]

_ATTRIBUTE = "_okta_bearer"


@dataclass
class Judged:
    """A request's scope (ASGI-shaped, from ``request.META``), the gate and its verdict."""

    gate: Gate
    scope: MutableMapping[str, Any]
    verdict: Verdict


def judged_by_middleware(request: HttpRequest) -> Judged | None:
    """The verdict already reached for ``request`` (by the middleware, or by DRF's
    authentication behind none), or ``None`` when nothing has judged it yet."""
    found: Judged | None = getattr(request, _ATTRIBUTE, None)
    return found


def judge(request: HttpRequest) -> Judged:
    """Judge ``request`` with the process's gate; keep the verdict and ``request.claims``."""
    gate = _conf.gate()
    scope = scope_from_environ(request.META)
    found = Judged(gate, scope, gate.judge(scope))
    setattr(request, _ATTRIBUTE, found)
    request.claims = found.verdict.claims
    return found


def judged(request: HttpRequest) -> Judged:
    """The request's verdict: the middleware's, or judged now (once) by the process's gate."""
    return judged_by_middleware(request) or judge(request)


def refusal(request: HttpRequest, error: BearerError) -> HttpResponse:
    """The answer to ``error`` raised after the request was judged (a view's scope check)."""
    state = judged(request)
    verdict = state.verdict if state.verdict.response is None else None
    return as_django(state.gate.refuse(state.scope, error, verdict=verdict))


def as_django(answer: ErrorResponse) -> HttpResponse:
    """The :class:`ErrorResponse` as a Django response (the same status, fields and body)."""
    response = HttpResponse(answer.body, status=answer.status)
    # Content-Type is set by HttpResponse: drop its default before adding ours.
    del response["Content-Type"]
    add_headers(response, answer.headers)
    return response


def add_headers(response: HttpResponse, headers: Iterable[tuple[bytes, bytes]]) -> None:
    """Add raw header pairs; repeated fields (two challenges) become one comma-joined value.

    Django's response headers hold one value per name; RFC 9110 section 11.6.1
    lets several challenges share one ``WWW-Authenticate`` field, comma-separated.
    """
    seen: set[str] = set()
    for raw_name, raw_value in headers:
        name, value = raw_name.decode("latin-1"), raw_value.decode("latin-1")
        key = name.lower()
        response[name] = f"{response[name]}, {value}" if key in seen else value
        seen.add(key)
