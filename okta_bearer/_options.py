"""Keyword options checked by name before a public constructor or factory runs.

One decorator, :func:`checked_options`, guards every public class and factory:
an option the callable does not take (``public_path=`` for ``public_paths=``)
raises :class:`~okta_bearer.ConfigurationError` naming the call and the
closest real option, instead of Python's bare ``TypeError``.  The call the
user wrote is remembered while it runs (:func:`called_api`), so an error raised
deeper down speaks of ``protect()`` rather than of the middleware it builds.

A class may define ``_configuration_failed(self, error, args)`` to handle a
:class:`~okta_bearer.ConfigurationError` itself instead of raising it:
:class:`~okta_bearer.BearerAuthMiddleware` keeps it for the lifespan start-up,
since Starlette builds middleware inside the server, where an exception would
only make uvicorn decide that the app does not support lifespan.
"""

from __future__ import annotations

import difflib
import functools
import inspect
import re
from collections.abc import Callable, Iterable
from contextvars import ContextVar
from typing import Any, TypeVar

from ._errors import ConfigurationError

__all__ = ["called_api", "checked_options", "unknown_option"]

_T = TypeVar("_T", bound=Callable[..., Any])
_Hook = Callable[[Any, ConfigurationError, tuple[Any, ...]], None]

# The outermost public call running in this context ("protect()"), for messages.
_CALLED: ContextVar[str | None] = ContextVar("okta_bearer_called_api", default=None)
_NAMED = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)


def called_api(default: str) -> str:
    """The public call the user wrote (``"protect()"``), or ``default`` outside of one."""
    return _CALLED.get() or default


def unknown_option(api: str, name: str, known: Iterable[str]) -> ConfigurationError:
    """The error for option ``name``, which ``api`` does not take, with the closest real one."""
    options = sorted(known)
    close = difflib.get_close_matches(name, options, n=1, cutoff=0.6)
    if close:
        hint = f"did you mean {close[0]!r}?"
    elif options:
        hint = "its options are " + ", ".join(options)
    else:
        hint = "it takes no keyword options"
    return ConfigurationError(f"{api} got an unknown option {name!r}; {hint}")


def checked_options(target: _T) -> _T:
    """Check the keyword names of every call of ``target`` (a class or a function).

    An unknown name raises :class:`~okta_bearer.ConfigurationError` before
    the body runs; arguments that do not fit the signature otherwise (too many
    positional ones, a required one missing) raise it instead of Python's
    ``TypeError``.  A correct call costs one set lookup per keyword.
    """
    if isinstance(target, type):
        hook: _Hook | None = getattr(target, "_configuration_failed", None)
        original = getattr(target, "__init__")  # noqa: B009 - the class's, not an instance's
        init = _guard(original, f"{target.__name__}()", hook, method=True)
        setattr(target, "__init__", init)  # noqa: B010 - mypy refuses assigning a method
        return target
    return _guard(target, f"{target.__name__}()", None, method=False)  # type: ignore[return-value]


def _guard(
    function: Callable[..., Any], api: str, hook: _Hook | None, *, method: bool
) -> Callable[..., Any]:
    signature = inspect.signature(function)
    params = list(signature.parameters.values())[1 if method else 0 :]
    open_ended = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params)
    known = frozenset(p.name for p in params if p.kind in _NAMED)

    @functools.wraps(function)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        error: ConfigurationError | None = None
        if not open_ended:
            error = next((unknown_option(api, k, known) for k in kwargs if k not in known), None)
        if error is None:
            token = _CALLED.set(api) if _CALLED.get() is None else None
            try:
                return function(*args, **kwargs)
            except ConfigurationError as exc:
                if hook is None:
                    raise
                error = exc
            except TypeError:
                error = _mismatch(signature, api, args, kwargs)
                if error is None:
                    raise  # the body's own TypeError, not the call's
            finally:
                if token is not None:
                    _CALLED.reset(token)
        if hook is None:
            raise error
        hook(args[0], error, args[1:])
        return None

    return guarded


def _mismatch(
    signature: inspect.Signature, api: str, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> ConfigurationError | None:
    try:
        signature.bind(*args, **kwargs)
    except TypeError as exc:
        message = str(exc)
        missing = re.fullmatch(r"missing a required argument: '(\w+)'", message)
        if missing:
            return ConfigurationError(f"{api} needs {missing.group(1)}=")
        return ConfigurationError(f"{api}: {message}")
    return None
