"""The start-up check (``startup_check``): what every integration does about the issuer at start-up.

Before the first request, the verifier fetches the issuer's metadata and
keys (its ``warm_up()``, or ``warm_up_sync()`` on the WSGI side), so the
first request pays nothing and a wrong issuer URL, an issuer mismatch or an
unreachable host is logged before any request.  The ASGI middleware runs it
at lifespan start-up, the Flask extension in ``init_app``, the Django app in
``AppConfig.ready``; all three decide and log through :func:`report`:

* ``"warn"`` (the default): each problem is logged at ERROR (reason
  ``startup_check_failed``) and the app starts anyway, since an issuer outage
  must not stop a deploy (requests get 503 until keys can be had);
* ``"exit"``: the same log, then start-up fails (ASGI: ``lifespan.startup.failed``;
  WSGI: :class:`StartupCheckFailed` raised where the app is built, which stops
  gunicorn's worker, or its master under ``--preload``);
* ``"off"``: nothing is fetched at start-up.
"""

from __future__ import annotations

import logging
from typing import Literal, get_args

from .._errors import ConfigurationError

__all__ = ["StartupCheck", "StartupCheckFailed", "check_option", "report", "warm_up_sync"]

logger = logging.getLogger("okta_bearer")

#: What start-up does about the issuer: ``"warn"`` fetches its metadata and
#: keys and logs a problem at ERROR, ``"exit"`` also stops the server
#: (``lifespan.startup.failed``), ``"off"`` leaves it to the first request.
StartupCheck = Literal["warn", "exit", "off"]
_STARTUP_CHECKS = frozenset(get_args(StartupCheck))


class StartupCheckFailed(RuntimeError):
    """``startup_check="exit"`` found a problem: the WSGI app must not start.

    The message names each issuer and what failed (never a token).
    """


def check_option(value: object, option: str = "startup_check") -> StartupCheck:
    """``value`` when it is a start-up check mode.

    Raises:
        ConfigurationError: naming ``option`` and the values it takes.
    """
    if not isinstance(value, str) or value not in _STARTUP_CHECKS:
        raise ConfigurationError(
            f"{option} must be one of {sorted(_STARTUP_CHECKS)}, got {value!r}"
        )
    return value  # type: ignore[return-value]


def report(problems: list[str], mode: StartupCheck) -> str | None:
    """Log each problem at ERROR; the message to stop start-up with, or ``None`` to go on."""
    stop = bool(problems) and mode == "exit"
    outcome = (
        "stopping (startup_check='exit')"
        if stop
        else "starting anyway; requests get 503 until it is fixed "
        "(startup_check='exit' stops instead)"
    )
    for problem in problems:
        logger.error(
            "okta_bearer: start-up check failed: %s; %s",
            problem,
            outcome,
            extra={"reason": "startup_check_failed"},
        )
    return "okta_bearer: " + "; ".join(problems) if stop else None


def warm_up_sync(verifier: object, mode: StartupCheck) -> None:
    """The WSGI side's start-up check: warm ``verifier`` (blocking) and act on ``mode``.

    A verifier without ``warm_up_sync()`` has nothing to warm.  Bounded by the
    verifier's timeouts.  Keys fetched here survive a fork (gunicorn
    ``--preload``): a forked worker keeps them and opens its own connections.

    Raises:
        StartupCheckFailed: ``mode`` is ``"exit"`` and a problem was found.
    """
    if mode == "off":
        return
    method = getattr(verifier, "warm_up_sync", None)
    problems = [str(p) for p in method()] if callable(method) else []
    message = report(problems, mode)
    if message is not None:
        raise StartupCheckFailed(message)
