"""The request URL a DPoP proof's ``htu`` is compared with (pure).

Two jobs, both without I/O:

* :func:`normalize_htu` puts a URL in the form compared for ``htu``: RFC 9449
  section 4.3 asks for syntax-based and scheme-based normalisation (RFC 3986
  sections 6.2.2 and 6.2.3) and ignores query and fragment.
* :func:`request_url` rebuilds the URL the client addressed from an ASGI scope.
  The scheme and host come from the scope and the ``Host`` header, or from a
  configured public origin, or, only when the operator says a proxy sets them,
  from ``Forwarded`` (RFC 7239) or ``X-Forwarded-Proto``/``X-Forwarded-Host``.
  A ``Host`` value that is not exactly ``host[:port]`` is refused, so a forged
  ``Host: api/other?`` cannot move the path a proof is compared with.  A path
  that normalisation would change while the app routes it unchanged (dot
  segments, plain or percent-encoded, empty segments, encoded slashes and
  backslashes) is refused too, never rewritten: a proof made for ``/me`` must
  not authorise ``/admin/../me``, which Starlette routes to ``/admin/{rest}``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any, Literal
from urllib.parse import quote, urlsplit

from .._errors import InvalidRequest

__all__ = ["ForwardedHeaders", "normalize_htu", "request_url"]

#: Which proxy headers name the client's scheme and host: ``None`` trusts none.
ForwardedHeaders = Literal["forwarded", "x-forwarded"] | None

# RFC 3986 section 2: the characters a URI may hold at all.  Anything else
# (space, tab, backslash, non-ASCII) makes the URL invalid rather than being
# silently stripped by urlsplit.
_URI_CHARS = re.compile(r"[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]+")
_PERCENT = re.compile(r"%([0-9A-Fa-f]{2})")
_BAD_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
# RFC 3986 section 3.2.2 / 3.2.3: reg-name or IP-literal, then an optional port.
_HOST = re.compile(r"(?:[A-Za-z0-9\-._~!$&'()*+,;=]+|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?")
_DEFAULT_PORT = {"http": 80, "https": 443}
# What makes the normalised path (what htu is compared with) differ from the
# path the app routes (percent-decoded, nothing else): a dot segment, plain or
# encoded in any case (RFC 3986 section 5.2.4), an empty segment, an encoded
# "/" or "\" (decoded into a separator by the server), or a raw backslash.
_UNROUTABLE = re.compile(r"/(?:\.|%2[Ee]){1,2}(?=/|$)|//|%2[Ff]|%5[Cc]|\\")
_WS_SCHEME = {"ws": "http", "wss": "https", "http": "http", "https": "https"}


def normalize_htu(url: str) -> str | None:
    """``scheme://host[:port]/path`` of ``url``, normalised; ``None`` when it is not usable.

    Lower-case scheme and host, no default port, an empty path as ``/``,
    percent-encodings in upper case with unreserved characters decoded, dot
    segments removed; query and fragment dropped.  Only absolute ``http`` and
    ``https`` URLs without user information are usable.
    """
    if not _URI_CHARS.fullmatch(url) or _BAD_PERCENT.search(url):
        return None
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    host = parts.hostname
    if scheme not in _DEFAULT_PORT or not host or "@" in parts.netloc:
        return None
    if ":" in host:
        host = f"[{host}]"
    netloc = host if port is None or port == _DEFAULT_PORT[scheme] else f"{host}:{port}"
    path = _remove_dot_segments(_PERCENT.sub(_normalize_escape, parts.path)) or "/"
    return f"{scheme}://{netloc}{path}"


def _normalize_escape(match: re.Match[str]) -> str:
    char = chr(int(match.group(1), 16))
    return char if char in _UNRESERVED else f"%{match.group(1).upper()}"


def _remove_dot_segments(path: str) -> str:
    # RFC 3986 section 5.2.4, on a path that is absolute (or empty).
    output: list[str] = []
    for segment in path.split("/")[1:]:
        if segment == "..":
            if output:
                output.pop()
        elif segment != ".":
            output.append(segment)
    result = "/" + "/".join(output) if path else ""
    # "/a/b/.." is "/a/": a final dot segment leaves a directory behind.
    if path.endswith(("/.", "/..")) and not result.endswith("/"):
        result += "/"
    return result


def _header(headers: Iterable[tuple[bytes, bytes]], name: bytes) -> str | None:
    # Repeated fields join with commas (RFC 9110 section 5.3); the last element
    # is the one the nearest proxy, the trusted one, wrote.
    values = [v.decode("latin-1") for k, v in headers if k == name]
    if not values:
        return None
    return ",".join(values).split(",")[-1].strip()


def _forwarded_pair(element: str) -> tuple[str | None, str | None]:
    proto = host = None
    for pair in element.split(";"):
        key, _, value = pair.strip().partition("=")
        value = value.strip().strip('"')
        if key.strip().lower() == "proto":
            proto = value
        elif key.strip().lower() == "host":
            host = value
    return proto, host


def _origin(scope: Mapping[str, Any], forwarded: ForwardedHeaders) -> tuple[str, str]:
    headers: list[tuple[bytes, bytes]] = scope.get("headers", [])
    scheme = _WS_SCHEME.get(scope.get("scheme", "http"), "")
    # The client's own Host is one value (RFC 9110 section 7.2): two of them,
    # or a comma-joined list, is a forged or broken request, never "the last".
    hosts = [v for k, v in headers if k == b"host"]
    if len(hosts) > 1 or (hosts and b"," in hosts[0]):
        raise InvalidRequest("bad_host", "The request's host or scheme is malformed")
    host = hosts[0].decode("latin-1").strip() if hosts else None
    if forwarded == "forwarded":
        element = _header(headers, b"forwarded")
        if element is not None:
            proto, fhost = _forwarded_pair(element)
            scheme = proto.lower() if proto else scheme
            host = fhost or host
    elif forwarded == "x-forwarded":
        proto = _header(headers, b"x-forwarded-proto")
        scheme = proto.lower() if proto else scheme
        host = _header(headers, b"x-forwarded-host") or host
    if host is None and scope.get("server"):
        server_host, server_port = scope["server"]
        host = f"{server_host}:{server_port}" if server_port is not None else server_host
    if scheme not in _DEFAULT_PORT or not host or not _HOST.fullmatch(host):
        raise InvalidRequest("bad_host", "The request's host or scheme is malformed")
    return scheme, host


def request_url(
    scope: Mapping[str, Any], *, origin: str | None = None, forwarded: ForwardedHeaders = None
) -> str:
    """The URL the client addressed, without query: what ``htu`` must match.

    Args:
        scope: the ASGI ``http`` or ``websocket`` scope (a WebSocket handshake
            counts as the ``http``/``https`` request it is).
        origin: a configured public ``scheme://host[:port]``; when set, the
            request's own scheme and host are never read.
        forwarded: which proxy headers to trust for scheme and host (only set
            this when a proxy you run overwrites them); ``None`` trusts none.

    Raises:
        InvalidRequest: a host or scheme that is not a plain ``host[:port]``
            and ``http``/``https`` (a forged ``Host`` header), or a path that
            normalisation would change but the app routes unchanged (``/./``,
            ``/../``, ``%2E%2E`` in any case, ``//``, ``%2F``, ``%5C``, ``\\``).
    """
    raw = scope.get("raw_path")
    path = raw.decode("latin-1") if raw else quote(scope.get("path", "/"), safe="/%:@!$&'()*+,;=")
    path = path.split("?", 1)[0]
    root = scope.get("root_path", "")
    # ASGI servers differ on whether "path" already includes root_path.
    if root and not (path == root or path.startswith(root.rstrip("/") + "/")):
        path = root.rstrip("/") + path
    if _UNROUTABLE.search(path):
        # Refused, not rewritten: the app would route the path as sent.
        raise InvalidRequest("ambiguous_path", "The request path is not in normal form")
    if origin is not None:
        return origin.rstrip("/") + path
    scheme, host = _origin(scope, forwarded)
    return f"{scheme}://{host}{path}"
