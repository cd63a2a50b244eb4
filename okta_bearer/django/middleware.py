"""``BearerAuthMiddleware`` for Django: every request authenticated before any view runs.

Put it in ``MIDDLEWARE`` (after ``SecurityMiddleware`` and any CORS
middleware, so preflights are answered before a token is asked for)::

    MIDDLEWARE = [
        "django.middleware.security.SecurityMiddleware",
        "okta_bearer.django.BearerAuthMiddleware",
        ...
    ]

It judges each request with the process's gate, built from
``settings.OKTA_BEARER``: the checks and answers of the ASGI
:class:`~okta_bearer.BearerAuthMiddleware`, in the same order.  A refusal
never reaches URL resolution, so ``OPTIONS``, ``HEAD`` and methods no view
serves need a valid token like ``GET`` does (only public paths and the RFC
9728 document are served without one).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from django.http import HttpRequest, HttpResponse, HttpResponseBase

from .._errors import BearerError
from . import _conf
from ._request import Judged, add_headers, as_django, judge, judged_by_middleware, refusal

__all__ = ["BearerAuthMiddleware"]

GetResponse = Callable[[HttpRequest], Any]


class BearerAuthMiddleware:
    """Authenticate every request with its Bearer (or DPoP) access token.

    On success the view sees ``request.claims`` (:class:`~okta_bearer.Claims`);
    on a public path or an anonymous request (``"optional": True``) it is
    ``None``.  ``request.user`` is left to ``django.contrib.auth``: a token is
    not a session, and an API token must not become a user of the admin.  The
    refusals are the ASGI middleware's: 401 with a challenge when no token is
    sent, 400 ``invalid_request`` for a malformed or doubled header, 401
    ``invalid_token``, 403 ``insufficient_scope``, 503 with ``Retry-After``
    when keys (or the DPoP replay store) cannot be had; every one a JSON body
    with ``Cache-Control: no-store``.  A :class:`~okta_bearer.BearerError` a
    view raises (a scope check of its own) gets the same answer.

    Works under WSGI (gunicorn, uWSGI) and under ASGI Django: there the token
    is verified in a worker thread (``sync_to_async``), never on the event loop.

    Raises:
        ConfigurationError: when the server loads the middleware, if
            ``settings.OKTA_BEARER`` is missing or wrong (``manage.py check``
            names the mistake earlier, as ``okta_bearer.E001``).
    """

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: GetResponse) -> None:
        self.get_response = get_response
        _conf.gate()  # a configuration mistake stops the worker at start-up
        self._async = iscoroutinefunction(get_response)
        if self._async:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> Any:
        if self._async:
            return self._acall(request)
        state = judge(request)
        if state.verdict.response is not None:
            return as_django(state.verdict.response)
        return self._finish(state, self.get_response(request))

    async def _acall(self, request: HttpRequest) -> HttpResponseBase:
        # Verification blocks (keys, introspection, the replay store): a thread of its own.
        state = await sync_to_async(judge, thread_sensitive=False)(request)
        if state.verdict.response is not None:
            return as_django(state.verdict.response)
        get_response: Callable[[HttpRequest], Awaitable[HttpResponseBase]] = self.get_response
        return self._finish(state, await get_response(request))

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        """A :class:`~okta_bearer.BearerError` from a view becomes its RFC 6750 answer."""
        if isinstance(exception, BearerError) and judged_by_middleware(request) is not None:
            return refusal(request, exception)
        return None

    @staticmethod
    def _finish(state: Judged, response: HttpResponseBase) -> HttpResponseBase:
        state.gate.admit(state.verdict)
        if state.verdict.headers:
            add_headers(response, state.verdict.headers)
        return response
