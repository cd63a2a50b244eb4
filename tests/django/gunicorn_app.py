"""What gunicorn serves in test_gunicorn.py: the example project, each answer naming its worker.

``X-Worker-Pid`` goes on every answer, refusals included (this wraps the whole
WSGI app), so a test can see which process refused a replayed proof.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import Any

from examples.django_project.wsgi import application as project


def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    """The example project, with ``X-Worker-Pid`` added to the answer."""

    def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        # Read per request: under --preload the module is imported before the fork.
        return start_response(status, [*headers, ("X-Worker-Pid", str(os.getpid()))], exc_info)

    result: Iterable[bytes] = project(environ, start)
    return result
