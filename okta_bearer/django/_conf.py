"""``settings.OKTA_BEARER`` read, checked and built into the process's one gate.

The setting is a dict whose keys are the option names of
:class:`~okta_bearer.BearerAuthMiddleware` (``issuer``, ``audience``,
``public_paths``, ``dpop``...) and of :class:`~okta_bearer.TokenVerifier`
(``client_ids``, ``keys``, ``store``, ``transport``...), so an option means the
same thing on every side.  Django settings are Python, so values may be the
library's objects; a few also have a settings-friendly spelling:

* ``dpop``: a dict of :class:`~okta_bearer.DPoPSettings` options;
* ``keys``: a dict of :class:`~okta_bearer.KeyPolicy` options;
* ``store``: a Redis URL (``"redis://host:6379/0"``) or a store object.  It
  holds the verifier's key sets and, unless ``dpop`` names its own, the DPoP
  replay marks, so every worker of the fleet shares both;
* ``startup_check``: ``"warn"`` (the default), ``"exit"`` or ``"off"``, what
  the app does about the issuer when a server starts (see
  :mod:`okta_bearer.django.apps`);
* ``verifier``, ``on_error``, ``events``: a dotted import path
  (``"myproject.auth.verifier"``) as well as the object.  A ``verifier`` path
  may name a callable taking no arguments that returns the verifier.

One gate per process: the middleware, the decorators and the DRF classes all
judge through it, so they share one key cache and one replay store.  It is
built on first use (or by the system check, or by the middleware at start-up)
and rebuilt when a test changes the setting (``override_settings``).
"""

from __future__ import annotations

import contextlib
import inspect
import threading
from collections.abc import Callable, Mapping
from typing import Any

from django.conf import settings
from django.core.signals import setting_changed
from django.utils.module_loading import import_string

from .._config import KeyPolicy
from .._dpop.settings import DPoPSettings, _redis_store
from .._errors import ConfigurationError
from .._http.gate import Gate
from .._http.settings import with_resource
from .._http.startup import StartupCheck, check_option
from .._jwt.verifier import TokenVerifier
from .._options import unknown_option
from .._store.memory import sync_face

__all__ = ["SETTING", "build_gate", "gate", "reset", "reset_on_change", "startup_check"]

#: The name of the Django setting.
SETTING = "OKTA_BEARER"
_WHERE = f"settings.{SETTING}"

# Options the gate takes, and the ones only a TokenVerifier built here takes.
# Read from the signatures, so a new option of either is a new key here too.
_SHARED = frozenset({"issuer", "audience", "required_scopes", "events"})
_GATE = frozenset(inspect.signature(Gate.__init__).parameters) - {"self", "declared_scopes"}
_VERIFIER = frozenset(inspect.signature(TokenVerifier.__init__).parameters) - {"self"} - _SHARED
_STARTUP = "startup_check"
KNOWN = _GATE | _VERIFIER | {_STARTUP}
_IMPORTABLE = ("verifier", "on_error", "events")

_lock = threading.Lock()
_gate: Gate | None = None
# What the gate does not close itself: a verifier or a store built here.
_closers: list[Callable[[], None]] = []


def gate() -> Gate:
    """The process's gate, built from the setting on first use.

    Raises:
        ConfigurationError: the setting is missing or an option is wrong.
    """
    current = _gate
    if current is not None:
        return current
    return _build_once()


def _build_once() -> Gate:
    global _gate
    with _lock:  # no network in here: building a verifier fetches nothing
        if _gate is None:
            _gate = build_gate(getattr(settings, SETTING, None), _closers)
        return _gate


def startup_check() -> StartupCheck:
    """The setting's ``startup_check`` (``"warn"`` when not given).

    Raises:
        ConfigurationError: the value is not one of the modes, naming the key.
    """
    raw = getattr(settings, SETTING, None)
    value = raw.get(_STARTUP, "warn") if isinstance(raw, Mapping) else "warn"
    return check_option(value, f"{_WHERE}['{_STARTUP}']")


def reset() -> None:
    """Forget the gate (closing what was built for it); the next use builds a new one."""
    global _gate
    with _lock:
        old, _gate = _gate, None
        closers = _closers[:]
        _closers.clear()
    if old is not None:
        old.close()
    for close in closers:
        with contextlib.suppress(Exception):  # a store already gone is closed enough
            close()


def reset_on_change(*, setting: str, **kwargs: Any) -> None:
    """``setting_changed`` receiver: a test that overrides ``OKTA_BEARER`` gets a new gate."""
    if setting == SETTING:
        reset()


# Connected here, not in the AppConfig: DRF's classes work without the app installed.
setting_changed.connect(reset_on_change, dispatch_uid="okta_bearer.django.reset")


def build_gate(raw: object, closers: list[Callable[[], None]] | None = None) -> Gate:
    """A :class:`Gate` from the setting's value (see the module docstring).

    ``closers`` receives the ``close`` of each verifier or store built here
    (the gate closes only a verifier it builds itself).

    Raises:
        ConfigurationError: naming the key (a misspelt one with the key meant).
    """
    if raw is None:
        raise ConfigurationError(
            f"{_WHERE} is not set: give it a dict with at least 'issuer' and 'audience'"
        )
    if not isinstance(raw, Mapping):
        raise ConfigurationError(f"{_WHERE} must be a dict of options, got {type(raw).__name__}")
    for key in raw:
        if not isinstance(key, str) or key not in KNOWN:
            raise unknown_option(_WHERE, str(key), KNOWN)
    check_option(raw.get(_STARTUP, "warn"), f"{_WHERE}['{_STARTUP}']")
    options: dict[str, Any] = {
        k: _resolve(k, v) if k in _IMPORTABLE else v for k, v in raw.items() if k != _STARTUP
    }
    owned = [] if closers is None else closers
    made = options.get("verifier")
    close = getattr(made, "close", None)
    if made is not raw.get("verifier") and callable(close):
        owned.append(close)  # built here by a factory named in the setting: closed here
    store: Any = options.pop("store", None)
    if isinstance(store, str):
        store = _redis_store(store)
        owned.append(sync_face(store, "store").close)
    if "keys" in options and isinstance(options["keys"], Mapping):
        options["keys"] = _nested("keys", KeyPolicy, options["keys"])
    dpop = options.get("dpop")
    if isinstance(dpop, Mapping):
        fields = dict(dpop)
        if store is not None:
            fields.setdefault("store", store)
        built: DPoPSettings = _nested("dpop", DPoPSettings, fields)
        options["dpop"] = built
        if built.owns_store:
            owned.append(sync_face(built.replay_store, "dpop.store").close)
    verifier_options = {k: options.pop(k) for k in list(options) if k in _VERIFIER}
    if store is not None:
        verifier_options["store"] = store
    if verifier_options:
        verifier = options["verifier"] = _token_verifier(options, verifier_options)
        owned.append(verifier.close)
    return Gate(**options)


def _token_verifier(options: dict[str, Any], verifier_options: dict[str, Any]) -> TokenVerifier:
    # Options only a TokenVerifier takes: build it here, with the shared ones.
    if options.get("verifier") is not None:
        names = ", ".join(sorted(verifier_options))
        raise ConfigurationError(
            f"{_WHERE}: {names} configure the TokenVerifier built from 'issuer' and "
            "'audience'; with 'verifier' set, configure that verifier instead"
        )
    issuer, audience = options.pop("issuer", None), options.pop("audience", None)
    if issuer is None or audience is None:
        raise ConfigurationError(f"{_WHERE} needs 'issuer' and 'audience' (or 'verifier')")
    resource = options.get("resource")
    if resource is not None:
        identifier = resource if isinstance(resource, str) else getattr(resource, "resource", None)
        if isinstance(identifier, str):
            audience = with_resource(audience, identifier)
    events = options.get("events")
    return TokenVerifier(issuer, audience, events=events, **verifier_options)


def _nested(option: str, kind: type[Any], fields: Mapping[str, Any]) -> Any:
    try:
        return kind(**fields)
    except ConfigurationError as exc:
        raise ConfigurationError(f"{_WHERE}['{option}']: {exc}") from None


def _resolve(option: str, value: object) -> object:
    # A dotted path names the object (or, for a verifier, a factory of it).
    if not isinstance(value, str):
        return value
    try:
        found = import_string(value)
    except ImportError as exc:
        raise ConfigurationError(f"{_WHERE}['{option}']: cannot import {value!r}: {exc}") from None
    if option == "verifier" and callable(found) and not hasattr(found, "verify_sync"):
        found = found()
    return found
