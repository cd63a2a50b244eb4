"""The request as every driver sees it: an ASGI-shaped scope, and the checks read from it (pure).

The ASGI middleware gets a scope from its server; the WSGI drivers (Flask,
Django) build the same shape from a WSGI environ with
:func:`scope_from_environ`, so every scope-based rule runs unchanged on both:
public paths (:func:`route_path`), the ``access_token`` query check
(:func:`check_query`), DPoP's ``htu`` and ``ambiguous_path`` rules
(:func:`okta_bearer._dpop.url.request_url` reads ``raw_path``), and the log
fields of a refusal.

WSGI differences, and what is done about them:

* ``PATH_INFO`` and ``SCRIPT_NAME`` hold the percent-decoded bytes as
  latin-1 text; ASGI's ``path`` is UTF-8 text: re-decoded, as uvicorn does
  (``errors="replace"``).  ``root_path`` is ``SCRIPT_NAME``, and ``path``
  includes it, as the ASGI spec says.  A ``PATH_INFO`` without its leading
  ``/`` (gunicorn cutting a ``SCRIPT_NAME`` out mid-segment) gets one, as
  Werkzeug routes it, so the path judged is the path routed.
* ``raw_path`` (the path as sent, before decoding) comes from ``RAW_URI``
  (gunicorn) or ``REQUEST_URI`` (Werkzeug's server, uWSGI, mod_wsgi); without
  either, DPoP's ambiguous-path check sees only the decoded path.
* WSGI servers join repeated header fields into one comma-separated value.
  For ``Authorization`` the value is split again wherever a comma starts new
  credentials (an auth-scheme followed by a space, or nothing), so
  ``Bearer a,Bearer b`` is two fields, exactly as two headers reach an ASGI
  app, and is the same 400 ``invalid_request`` (``multiple_headers``).  A
  comma inside one set of credentials (``Digest a="1", b="2"``) stays.
  Bearer and DPoP credentials cannot hold a comma (RFC 6750 section 2.1
  ``b64token``), so no valid token is ever split.  ``DPoP`` proofs (compact
  JWS, no commas either) are split at every comma: two proofs are two proofs.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, MutableMapping
from itertools import pairwise
from typing import Any
from urllib.parse import parse_qsl

from .._errors import InvalidRequest

__all__ = ["check_query", "names_access_token", "route_path", "scope_from_environ"]

Scope = MutableMapping[str, Any]

# A comma where new credentials start: OWS, then an auth-scheme (RFC 9110
# section 11.1 token) followed by a space, or the end of the value.
_NEXT_CREDENTIALS = re.compile(rb",[ \t]*(?=[!#$%&'*+.^_`|~0-9A-Za-z-]+(?: |$)|$)")
_SPLIT_AT_EVERY_COMMA = frozenset({b"dpop"})
_CREDENTIAL_HEADERS = frozenset({b"authorization"})


def route_path(scope: Mapping[str, Any]) -> str:
    """The path the app routes: ``path`` without ``root_path`` (set by a mount or a prefix)."""
    # ASGI servers and Starlette's Mount put root_path in front of "path";
    # routing strips it again, so public paths are matched the same way.
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    if root and path.startswith(root) and path[len(root) : len(root) + 1] in ("", "/"):
        return path[len(root) :] or "/"
    return path


def names_access_token(scope: Mapping[str, Any]) -> bool:
    """Whether the query string may carry ``access_token`` (a cheap pre-check)."""
    # Most requests have no query string; "in" on bytes costs an internal
    # TypeError (it tries the operand as an integer first), so skip it then.
    query: bytes = scope.get("query_string", b"")
    return bool(query) and b"access_token" in query


def check_query(scope: Mapping[str, Any], token: str | None) -> None:
    """Refuse a token sent both in the header and as the ``access_token`` parameter.

    RFC 6750 section 2.3 is not supported (tokens in URLs leak into logs and
    history), but sending two methods at once is a malformed request.

    Raises:
        InvalidRequest: ``token`` came in a header and the query names one too.
    """
    query = scope["query_string"].decode("latin-1")
    if token is not None and any(k == "access_token" for k, _ in parse_qsl(query)):
        raise InvalidRequest("multiple_methods", "Use only one method to send the token")


def _bytes(text: str) -> bytes:
    # PEP 3333: environ strings are bytes decoded as latin-1; a test client
    # may hand over other text, which is then sent as UTF-8.
    try:
        return text.encode("latin-1")
    except UnicodeEncodeError:
        return text.encode("utf-8")


def _text(wsgi: str) -> str:
    # PATH_INFO's bytes, read as UTF-8 the way an ASGI server decodes a path.
    return _bytes(wsgi).decode("utf-8", "replace")


def _split(name: bytes, value: bytes) -> list[bytes]:
    # The fields a WSGI server joined into ``value``; other headers stay whole.
    if name in _CREDENTIAL_HEADERS and b"," in value:
        cuts = [m.start() for m in _NEXT_CREDENTIALS.finditer(value)]
        if cuts:
            edges = [0, *cuts, len(value)]
            parts = [value[a:b] for a, b in pairwise(edges)]
            return [parts[0], *(p[1:].lstrip(b" \t") for p in parts[1:])]
    elif name in _SPLIT_AT_EVERY_COMMA and b"," in value:
        return [p.strip(b" \t") for p in value.split(b",")]
    return [value]


# Header names of environ keys seen before ("HTTP_X_FOO" -> b"x-foo"): the
# conversion is most of the cost of building a scope.  Bounded, since the
# keys are the client's choice; past the bound names are converted each time.
_NAMES: dict[str, bytes] = {}
_MAX_NAMES = 512
_CONTENT = {"CONTENT_TYPE": b"content-type", "CONTENT_LENGTH": b"content-length"}


def _name(key: str) -> bytes:
    name = _NAMES.get(key)
    if name is None:
        name = key[5:].replace("_", "-").lower().encode("latin-1")
        if len(_NAMES) < _MAX_NAMES:
            _NAMES[key] = name
    return name


def _headers(environ: Mapping[str, Any]) -> list[tuple[bytes, bytes]]:
    names = _NAMES
    try:
        # One pass over the HTTP_* keys, on every request: kept to a comprehension.
        headers = [
            (names[key] if key in names else _name(key), value.encode("latin-1"))
            for key, value in environ.items()
            if key.startswith("HTTP_")
        ]
    except (UnicodeEncodeError, AttributeError):
        headers = [
            (_name(key), _bytes(value))
            for key, value in environ.items()
            if key.startswith("HTTP_") and isinstance(value, str)
        ]
    for key, name in _CONTENT.items():
        value = environ.get(key)
        if value and isinstance(value, str):
            headers.append((name, _bytes(value)))
    joined = environ.get("HTTP_AUTHORIZATION"), environ.get("HTTP_DPOP")
    if any(isinstance(value, str) and "," in value for value in joined):
        headers = [(name, part) for name, value in headers for part in _split(name, value)]
    return headers


def _port(value: object) -> int | None:
    text = str(value)
    return int(text) if text.isdigit() and len(text) <= 5 else None


def scope_from_environ(environ: Mapping[str, Any]) -> Scope:
    """An ASGI ``http`` scope holding what a WSGI environ (or Django's ``request.META``) says.

    Keys: ``type``, ``http_version``, ``method``, ``scheme``, ``server``,
    ``client``, ``root_path``, ``path`` (both UTF-8 text, ``path`` including
    ``root_path``), ``raw_path`` (when the server passes the request target),
    ``query_string`` and ``headers`` (lower-case byte pairs, repeated
    credentials split back into separate fields: see the module docstring).
    """
    root = _text(environ.get("SCRIPT_NAME", "") or "")
    info = _text(environ.get("PATH_INFO", "") or "")
    if info and info[0] != "/":
        # gunicorn cuts a SCRIPT_NAME (a header from a trusted proxy) out of
        # the target mid-segment: "/docs/admin" under "/docs/" leaves
        # "admin", which Werkzeug routes as "/admin".  Judged as it is routed,
        # or a public "/docs/" would open every view (PEP 3333: PATH_INFO is
        # empty or starts with "/").
        info = "/" + info
    path = root + info or "/"
    scope: Scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": str(environ.get("SERVER_PROTOCOL", "HTTP/1.1")).removeprefix("HTTP/"),
        "method": str(environ.get("REQUEST_METHOD", "GET")).upper(),
        "scheme": str(environ.get("wsgi.url_scheme", "http")),
        "root_path": root,
        "path": path,
        "query_string": _bytes(environ.get("QUERY_STRING", "") or ""),
        "headers": _headers(environ),
        "server": (str(environ.get("SERVER_NAME", "")), _port(environ.get("SERVER_PORT", ""))),
        "client": None,
    }
    target = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if isinstance(target, str) and target:
        scope["raw_path"] = _bytes(target).partition(b"?")[0]
    address = environ.get("REMOTE_ADDR")
    if isinstance(address, str) and address:
        scope["client"] = (address, _port(environ.get("REMOTE_PORT", "")) or 0)
    return scope
