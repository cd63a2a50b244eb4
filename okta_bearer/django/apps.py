"""The Django app: okta_bearer's system checks, and the start-up check when a server starts.

``"okta_bearer.django"`` in ``INSTALLED_APPS`` registers the system checks
and, when the app registry is ready in a process that serves requests, runs
the start-up check (``OKTA_BEARER["startup_check"]``, as ``startup_check=`` of
the ASGI middleware and the Flask extension): the verifier fetches the
issuer's metadata and keys, so the first request pays nothing and a wrong
issuer URL or an unreachable host is logged at ERROR before any request.
``"warn"`` (the default) goes on anyway; ``"exit"`` makes ``django.setup()``
raise a ``RuntimeError`` naming the issuer and the problem (gunicorn stops:
under ``--preload`` in its master, before any worker is forked; else a
worker that fails to boot halts it); ``"off"`` skips it.

``ready()`` also runs for every management command and under test runners,
which must not need the issuer (``migrate`` in a build step, ``check`` in
CI, tests with :func:`~okta_bearer.django.use_local_issuer`).  So the check
runs only where :func:`serving` says a server is starting:

* not under Django's command line (``manage.py``, ``django-admin``,
  ``python -m django``, or any program whose first argument is a management
  command), except ``runserver`` in the process that serves (its
  autoreloader's child, or ``--noreload``);
* not when pytest is loaded (pytest-django calls ``django.setup()`` too).

gunicorn, uWSGI, mod_wsgi, uvicorn and daphne load the project through
``get_wsgi_application()``/``get_asgi_application()``: the check runs there.
A wrong ``OKTA_BEARER`` also stops such a server here, before it serves.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence

from django.apps import AppConfig

__all__ = ["OktaBearerConfig", "serving"]

_PROGRAMS = frozenset({"manage.py", "django-admin", "django-admin.py"})


def serving(argv: Sequence[str], modules: Mapping[str, object], environ: Mapping[str, str]) -> bool:
    """Whether this process (its ``sys.argv``, ``sys.modules``, ``os.environ``) starts a server.

    See the module docstring for the rule.
    """
    if "pytest" in modules:
        return False
    from django.core.management import get_commands

    program = argv[0] if argv else ""
    django_cli = os.path.basename(program) in _PROGRAMS or program.endswith(
        os.path.join("django", "__main__.py")
    )
    command = argv[1] if len(argv) > 1 else None
    if not django_cli and (command is None or command not in get_commands()):
        return True  # a WSGI/ASGI server (or a script) built the project
    if command != "runserver":
        return False
    # runserver's autoreloader runs setup() in a parent that only watches files.
    return "--noreload" in argv or environ.get("RUN_MAIN") == "true"


class OktaBearerConfig(AppConfig):
    """``"okta_bearer.django"`` in ``INSTALLED_APPS``: checks ``settings.OKTA_BEARER`` at start-up.

    ``manage.py check`` (and ``runserver``, ``migrate``, ``test``) then report
    a wrong or misspelt option as ``okta_bearer.E001``, with the message the
    library's :class:`~okta_bearer.ConfigurationError` gives.  In a process
    that serves, ``ready()`` runs the start-up check (module docstring).
    """

    name = "okta_bearer.django"
    label = "okta_bearer"
    verbose_name = "okta_bearer"

    def ready(self) -> None:
        """Register the system checks; run the start-up check if a server is starting.

        Raises:
            ConfigurationError: (serving) ``settings.OKTA_BEARER`` is wrong.
            RuntimeError: (serving) ``startup_check`` is ``"exit"`` and the
                issuer's metadata or keys cannot be had.
        """
        from . import checks  # noqa: F401 - registers the checks

        if serving(sys.argv, sys.modules, os.environ):
            start_up()


def start_up() -> None:
    """The start-up check with the process's gate and ``OKTA_BEARER["startup_check"]``.

    Raises:
        ConfigurationError: the setting is wrong (naming the key).
        RuntimeError: ``"exit"`` and a problem was found.
    """
    from .._http.startup import StartupCheckFailed, warm_up_sync
    from . import _conf

    mode = _conf.startup_check()
    try:
        warm_up_sync(_conf.gate().verifier, mode)
    except StartupCheckFailed:
        _conf.reset()  # close what was built for the gate: the process stops
        raise
