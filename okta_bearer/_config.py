"""Configuration checks, in one place, and the key-fetch policy (pure).

Every constructor option goes through one of these functions, so a mistake
fails at start-up with a :class:`ConfigurationError` that names the option
and what was wrong with it.
"""

from __future__ import annotations

import ipaddress
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

import httpx

from ._errors import ConfigurationError
from ._options import checked_options

__all__ = [
    "KeyPolicy",
    "async_transport",
    "check_bool",
    "check_int",
    "check_number",
    "check_strings",
    "check_transport",
    "check_url",
    "is_loopback_url",
    "sync_transport",
]


def is_loopback_host(host: str) -> bool:
    """Whether ``host`` is ``localhost`` or an IP literal in a loopback range.

    A name such as ``127.attacker.example`` is not loopback: only literals
    are trusted, since a DNS name can resolve anywhere.
    """
    host = host.lower().rstrip(".")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def is_loopback_url(url: str) -> bool:
    """Whether ``url`` points at this machine (see :func:`is_loopback_host`)."""
    try:
        host = urlsplit(url).hostname
    except ValueError:
        return False
    return bool(host) and is_loopback_host(host or "")


def check_url(option: str, url: object) -> str:
    """An absolute ``https://`` URL (plain ``http`` only on loopback), returned unchanged.

    Refuses user information, queries and fragments, and Okta placeholders
    left in sample configuration.
    """
    if not isinstance(url, str) or not url:
        raise ConfigurationError(f"{option} must be a non-empty URL string")
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError as exc:
        raise ConfigurationError(f"{option} is not a valid URL: {url!r}") from exc
    if parts.scheme not in ("https", "http") or not host:
        raise ConfigurationError(f"{option} must be an absolute https:// URL, got {url!r}")
    if parts.username is not None or parts.password is not None:
        raise ConfigurationError(f"{option} must not contain user information")
    if parts.query or parts.fragment or "#" in url or "?" in url:
        raise ConfigurationError(f"{option} must not contain a query or fragment")
    if any(ch.isspace() for ch in url):
        raise ConfigurationError(f"{option} must not contain whitespace: {url!r}")
    if parts.scheme == "http" and not is_loopback_host(host):
        raise ConfigurationError(
            f"{option} must use https:// (plain http is allowed only for localhost and "
            f"loopback IP addresses), got {url!r}"
        )
    if "{" in url or "yourokta" in url.lower():
        raise ConfigurationError(f"{option} still holds a placeholder: {url!r}")
    if "-admin." in host:
        raise ConfigurationError(
            f"{option} points at an Okta admin domain; use the org domain instead: {url!r}"
        )
    return url


def _shown(value: object) -> str:
    # A 400-digit integer would overflow float() and fill the message (and past
    # 4300 digits repr() itself refuses): say how big it is instead.
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**18:
        return f"a {value.bit_length()}-bit integer"
    return repr(value)


def check_number(option: str, value: object, low: float, high: float) -> float:
    """A finite number within ``[low, high]``, as a float."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigurationError(f"{option} must be a finite number, got {_shown(value)}")
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigurationError(f"{option} must be a finite number, got {value!r}")
    if not low <= value <= high:  # exact for integers of any size, no float conversion
        raise ConfigurationError(
            f"{option} must be between {low:g} and {high:g}, got {_shown(value)}"
        )
    return float(value)


def check_int(option: str, value: object, low: int, high: int) -> int:
    """An integer (not a bool) within ``[low, high]``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigurationError(f"{option} must be an integer, got {_shown(value)}")
    check_number(option, value, low, high)
    return value


def check_bool(option: str, value: object) -> bool:
    """``True`` or ``False`` exactly (a truthy string is a mistake, not a yes)."""
    if not isinstance(value, bool):
        raise ConfigurationError(f"{option} must be True or False, got {value!r}")
    return value


def check_strings(option: str, value: object, *, allow_empty: bool) -> tuple[str, ...]:
    """One non-empty string, or an iterable of them, as a tuple."""
    items = (value,) if isinstance(value, str) else value
    if not isinstance(items, Iterable) or isinstance(items, (bytes, dict)):
        raise ConfigurationError(f"{option} must be a string or a list of strings")
    result = tuple(items)
    if not all(isinstance(item, str) and item for item in result):
        raise ConfigurationError(f"{option} must hold only non-empty strings")
    if not result and not allow_empty:
        raise ConfigurationError(f"{option} must not be empty")
    return result


_TRANSPORT_KINDS = (httpx.AsyncBaseTransport, httpx.BaseTransport)


def check_transport(option: str, transport: object) -> object:
    """``None``, or an httpx transport for at least one driver, returned unchanged.

    A verifier serves an async side (``verify``: an ``httpx.AsyncBaseTransport``)
    and a sync side (``verify_sync``: an ``httpx.BaseTransport``); one object
    may be both (``httpx.MockTransport`` is).  Which side it must serve is
    known only when that side is first used: see :func:`async_transport`
    and :func:`sync_transport`.
    """
    if transport is None or isinstance(transport, _TRANSPORT_KINDS):
        return transport
    raise ConfigurationError(
        f"{option} must be an httpx.AsyncBaseTransport (for verify) or an "
        "httpx.BaseTransport (for verify_sync), e.g. httpx.MockTransport (both)"
    )


def _wrong_side(option: str, side: Literal["async", "sync"]) -> ConfigurationError:
    # The wording TokenVerifier uses for the same rule (_jwt/verifier.py).
    if side == "sync":
        return ConfigurationError(
            f"{option}: verify_sync() needs an httpx.BaseTransport (this one is "
            "async only; httpx.MockTransport and LocalIssuer.transport() are both)"
        )
    return ConfigurationError(
        f"{option}: verify() needs an httpx.AsyncBaseTransport (this one is sync "
        "only; use it with verify_sync(), or pass httpx.MockTransport)"
    )


def async_transport(option: str, transport: object) -> httpx.AsyncBaseTransport | None:
    """``transport`` for the async side (``verify``), or ``None``.

    Raises:
        ConfigurationError: naming ``option``, when it serves the sync side only.
    """
    if transport is None or isinstance(transport, httpx.AsyncBaseTransport):
        return transport
    raise _wrong_side(option, "async")


def sync_transport(option: str, transport: object) -> httpx.BaseTransport | None:
    """``transport`` for the sync side (``verify_sync``), or ``None``.

    Raises:
        ConfigurationError: naming ``option``, when it serves the async side only.
    """
    if transport is None or isinstance(transport, httpx.BaseTransport):
        return transport
    raise _wrong_side(option, "sync")


@checked_options
@dataclass(frozen=True, slots=True)
class KeyPolicy:
    """How signing keys are fetched and cached; the defaults suit Okta.

    Attributes:
        timeout: total seconds for one refresh (discovery plus JWKS); no
            request waits longer for keys.
        min_ttl, max_ttl: bounds applied to the JWKS ``Cache-Control: max-age``.
        default_ttl: freshness when the JWKS response has no ``max-age``.
        max_stale: while the issuer cannot be reached, known keys keep serving
            this long past their expiry (a warning is logged).
        unknown_kid_interval: minimum seconds between two refetches *caused by
            unknown kids*.  Scheduled refreshes do not count, so a key rotated
            in just after start-up is fetched at once; a flood of random kids
            costs at most one fetch per interval (12 a minute at the default).

    Raises:
        ConfigurationError: naming the field, when a value is out of range.
    """

    timeout: float = 5.0
    min_ttl: float = 300.0
    max_ttl: float = 86400.0
    default_ttl: float = 3600.0
    max_stale: float = 86400.0
    unknown_kid_interval: float = 5.0

    def __post_init__(self) -> None:
        check_number("KeyPolicy.timeout", self.timeout, 0.01, 120)
        check_number("KeyPolicy.min_ttl", self.min_ttl, 1, 7 * 86400)
        check_number("KeyPolicy.max_ttl", self.max_ttl, self.min_ttl, 30 * 86400)
        check_number("KeyPolicy.default_ttl", self.default_ttl, self.min_ttl, self.max_ttl)
        check_number("KeyPolicy.max_stale", self.max_stale, 0, 30 * 86400)
        check_number("KeyPolicy.unknown_kid_interval", self.unknown_kid_interval, 0, 3600)

    @property
    def retry_backoff(self) -> float:
        """Seconds after a failed refresh before another may start."""
        return min(max(self.unknown_kid_interval, 1.0), 5.0)
