"""The Django driver: the Django middleware on the test project, called as a WSGI server calls it.

Requests become the WSGI environ gunicorn builds (the Flask driver's
:func:`~tests.web_drivers.flask.environ`: repeated header fields joined with
``,``) and go through Django's ``WSGIHandler``, in a thread as a WSGI
server's worker would run it.  ``OKTA_BEARER`` holds the verifier and the
options as given (Django settings may hold the library's objects);
``DEBUG_PROPAGATE_EXCEPTIONS`` makes a view's exception fail the test
instead of becoming a 500.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from typing import Any

import httpx

from . import StepUp, identity
from .flask import environ


class _UrlConf:
    # A URLconf is any object with ``urlpatterns``: one per driver app.
    def __init__(self, urlpatterns: list[Any]) -> None:
        self.urlpatterns = urlpatterns


class _Client:
    def __init__(self, handler: Any, base_url: str) -> None:
        self.handler = handler
        self.base_url = base_url

    def _call(self, env: dict[str, Any]) -> httpx.Response:
        started: list[Any] = []

        def start_response(
            status: str, headers: list[tuple[str, str]], exc_info: Any = None
        ) -> Any:
            started[:] = [status, headers]

        body: Iterable[bytes] = self.handler(env, start_response)
        try:
            content = b"".join(body)
        finally:
            close = getattr(body, "close", None)
            if close is not None:
                close()
        status, headers = started
        return httpx.Response(int(status.split(" ", 1)[0]), headers=headers, content=content)

    async def request(
        self, method: str, target: str, headers: list[tuple[bytes, bytes]]
    ) -> httpx.Response:
        env = environ(method, target, headers, self.base_url)
        return await asyncio.to_thread(self._call, env)


@asynccontextmanager
async def app(
    verifier: Any,
    *,
    base_url: str = "http://api.test",
    step_up: StepUp | None = None,
    **options: Any,
) -> AsyncIterator[_Client]:
    """Serve the common routes behind okta_bearer.django.BearerAuthMiddleware."""
    from ..django.project import configure

    configure()
    from django.core.handlers.wsgi import WSGIHandler
    from django.http import HttpRequest, JsonResponse
    from django.test import override_settings
    from django.urls import path

    from okta_bearer.django import require_auth

    step_up = step_up or StepUp()

    def echo(request: HttpRequest) -> JsonResponse:
        return JsonResponse(identity(request.claims))

    @require_auth(acr_values=step_up.acr_values, max_age=step_up.max_age, clock=step_up.clock)
    def stepped(request: HttpRequest) -> JsonResponse:
        return JsonResponse(identity(request.claims))

    urls = _UrlConf([path("", echo), path("items", echo), path("stepup", stepped)])
    settings = override_settings(
        OKTA_BEARER={"verifier": verifier, **options},
        ROOT_URLCONF=urls,
        MIDDLEWARE=["okta_bearer.django.BearerAuthMiddleware"],
        DEBUG_PROPAGATE_EXCEPTIONS=True,
    )
    try:
        with settings:
            yield _Client(WSGIHandler(), base_url)
    finally:
        verifier.close()
