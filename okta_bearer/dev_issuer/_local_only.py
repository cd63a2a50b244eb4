"""The "only this machine's own tools, never a web page" guard, for every endpoint that needs it.

``/dev/mint``, ``/dev/rotate`` and ``/v1/register`` hand out tokens, keys or
clients without anyone signing in, so no web page may reach them, directly or
through the user's browser.  A request must come from a loopback address,
name a loopback ``Host`` (a DNS-rebinding page reaches 127.0.0.1 under its own
host name, e.g. ``evil.example:9400``) and carry no ``Origin`` (browsers send
it on every cross-origin request and every POST ``fetch``; curl, the CLI and
native clients never do).  Each endpoint also insists on a JSON body, which a
plain HTML form cannot send.
"""

from __future__ import annotations

from starlette.requests import Request

from .._config import is_loopback_host


def host_header_is_loopback(value: str) -> bool:
    """Whether a ``Host`` header (``host[:port]``) names loopback: ``localhost``, 127/8, ``::1``.

    Only IP literals and ``localhost`` count: a name such as
    ``127.0.0.1.evil.example`` resolves wherever its owner wants.
    """
    value = value.strip()
    if value.startswith("["):  # an IPv6 literal, "[::1]:9400"
        name, _, rest = value[1:].partition("]")
        if rest and not rest.startswith(":"):
            return False
        port = rest[1:]
    else:
        name, _, port = value.partition(":")
    if port and not port.isdigit():
        return False
    return bool(name) and is_loopback_host(name)


def web_page_refusal(request: Request) -> str | None:
    """Why a request that no web page may make is refused, or ``None`` when it may proceed."""
    if not is_loopback_host(request.client.host if request.client else ""):
        return "Loopback clients only."
    hosts = [v for k, v in request.scope["headers"] if k == b"host"]
    if len(hosts) != 1 or not host_header_is_loopback(hosts[0].decode("latin-1")):
        return "The Host header must name loopback (127.0.0.1, ::1 or localhost)."
    if "origin" in request.headers:
        return "Requests from web pages (with an Origin header) are refused."
    return None
