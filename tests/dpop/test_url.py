"""The URL htu is compared with: normalisation and rebuilding it from an ASGI scope."""

from __future__ import annotations

from typing import Any

import pytest

from okta_bearer import InvalidRequest
from okta_bearer._dpop.url import normalize_htu, request_url

NORMALISED = [
    ("HTTPS://Example.COM/a", "https://example.com/a"),
    ("https://example.com:443/a", "https://example.com/a"),
    ("http://example.com:80/a", "http://example.com/a"),
    ("http://example.com:8080/a", "http://example.com:8080/a"),
    ("https://example.com", "https://example.com/"),
    ("https://example.com/a/./b/../c", "https://example.com/a/c"),
    ("https://example.com/a/b/..", "https://example.com/a/"),
    ("https://example.com/../../a", "https://example.com/a"),
    ("https://example.com/%7e%2f", "https://example.com/~%2F"),
    ("https://example.com/a//b", "https://example.com/a//b"),
    ("https://example.com/a?q=1#frag", "https://example.com/a"),
    ("http://[::1]:8000/x", "http://[::1]:8000/x"),
]


@pytest.mark.parametrize(("url", "expected"), NORMALISED)
def test_normalize_htu(url: str, expected: str) -> None:
    """Syntax- and scheme-based normalisation (RFC 3986 6.2.2, 6.2.3), query and fragment gone."""
    assert normalize_htu(url) == expected


UNUSABLE = [
    "/relative/path",
    "ftp://example.com/a",
    "https://user@example.com/a",
    "https://exa mple.com/a",
    "https://example.com/a\tb",
    "https://example.com/\u00e9",
    "https://example.com/%zz",
    "https://example.com:99999/",
    "https://[::1/",
    "https:///path",
]


@pytest.mark.parametrize("url", UNUSABLE)
def test_unusable_urls_normalise_to_none(url: str) -> None:
    """Non-http(s), relative, userinfo or malformed URLs never match anything."""
    assert normalize_htu(url) is None


def _scope(**overrides: Any) -> dict[str, Any]:
    scope: dict[str, Any] = {
        "type": "http",
        "scheme": "http",
        "method": "GET",
        "path": "/items",
        "raw_path": b"/items",
        "root_path": "",
        "query_string": b"a=1",
        "headers": [(b"host", b"api.example.test:8000")],
        "server": ("127.0.0.1", 8000),
    }
    scope.update(overrides)
    return scope


def test_request_url_from_scope_and_host() -> None:
    """Without proxy settings the URL is the scope's scheme, the Host header and the path."""
    assert request_url(_scope()) == "http://api.example.test:8000/items"


def test_request_url_keeps_percent_encoding_of_raw_path() -> None:
    """The raw path is used as sent, so encoded characters compare as the client wrote them."""
    scope = _scope(path="/a b", raw_path=b"/a%20b")
    assert request_url(scope) == "http://api.example.test:8000/a%20b"


def test_request_url_adds_missing_root_path() -> None:
    """A root_path not already in the path is put in front of it."""
    scope = _scope(root_path="/api", path="/items", raw_path=b"/items")
    assert request_url(scope) == "http://api.example.test:8000/api/items"
    scope = _scope(root_path="/api", path="/api/items", raw_path=b"/api/items")
    assert request_url(scope) == "http://api.example.test:8000/api/items"


def test_websocket_scheme_maps_to_http() -> None:
    """A WebSocket handshake is the https request it travels in."""
    assert request_url(_scope(type="websocket", scheme="wss")).startswith("https://")


def test_request_url_falls_back_to_server_without_host() -> None:
    """An HTTP/1.0 request without Host uses the server address."""
    assert request_url(_scope(headers=[])) == "http://127.0.0.1:8000/items"


@pytest.mark.parametrize(
    "host",
    [b"api.example.test/admin?", b"evil/path?x", b"a b", b"api.example.test:80:80", b"", b"x@y"],
)
def test_forged_host_refused(host: bytes) -> None:
    """A Host that is not exactly host[:port] cannot move the path htu is compared with."""
    with pytest.raises(InvalidRequest):
        request_url(_scope(headers=[(b"host", host)]))


def test_forwarded_headers_ignored_by_default() -> None:
    """Forwarded and X-Forwarded-* are never read unless configured."""
    headers = [
        (b"host", b"internal:8000"),
        (b"forwarded", b"proto=https;host=api.example.test"),
        (b"x-forwarded-proto", b"https"),
        (b"x-forwarded-host", b"api.example.test"),
    ]
    assert request_url(_scope(headers=headers)) == "http://internal:8000/items"


def test_forwarded_header_trusted_when_configured() -> None:
    """With forwarded='forwarded' the last Forwarded element names scheme and host."""
    headers = [
        (b"host", b"internal:8000"),
        (
            b"forwarded",
            b'for=1.2.3.4;proto=http;host=spoofed, for=5.6.7.8;proto=https;host="api.example.test"',
        ),
    ]
    url = request_url(_scope(headers=headers), forwarded="forwarded")
    assert url == "https://api.example.test/items"


def test_x_forwarded_headers_trusted_when_configured() -> None:
    """With forwarded='x-forwarded' the last X-Forwarded-Proto/Host values are used."""
    headers = [
        (b"host", b"internal:8000"),
        (b"x-forwarded-proto", b"http, https"),
        (b"x-forwarded-host", b"api.example.test"),
    ]
    url = request_url(_scope(headers=headers), forwarded="x-forwarded")
    assert url == "https://api.example.test/items"


def test_forged_forwarded_host_refused() -> None:
    """A trusted proxy header is still checked as host[:port]."""
    headers = [(b"host", b"internal"), (b"x-forwarded-host", b"api.example.test/admin?")]
    with pytest.raises(InvalidRequest):
        request_url(_scope(headers=headers), forwarded="x-forwarded")


def test_configured_origin_wins_over_headers() -> None:
    """A configured origin is used as is; Host and proxy headers are not read."""
    scope = _scope(headers=[(b"host", b"evil/x?"), (b"x-forwarded-host", b"evil")])
    assert request_url(scope, origin="https://api.example.test") == "https://api.example.test/items"


# (raw path, what Starlette routes) - normalisation would change each path, the
# router would not: a proof made for the normalised URL must not authorise it.
UNROUTABLE = [
    ("/admin/../me", "/admin/../me"),
    ("/admin/%2E%2E/me", "/admin/../me"),
    ("/admin/%2e%2e/me", "/admin/../me"),
    ("/admin/%2e./me", "/admin/../me"),
    ("/admin/.%2E/me", "/admin/../me"),
    ("/admin/..", "/admin/.."),
    ("/./me", "/./me"),
    ("/%2e/me", "/./me"),
    ("/admin/.", "/admin/."),
    ("//me", "//me"),
    ("/admin//me", "/admin//me"),
    ("/admin%2Fme", "/admin/me"),
    ("/admin%2fme", "/admin/me"),
    ("/admin%5Cme", "/admin\\me"),
    ("/admin%5cme", "/admin\\me"),
    ("/admin\\..\\me", "/admin\\..\\me"),
]


@pytest.mark.parametrize(("raw", "path"), UNROUTABLE)
def test_path_normalisation_would_change_is_refused(raw: str, path: str) -> None:
    """A path whose normalised form differs from the routed one is refused, not rewritten."""
    with pytest.raises(InvalidRequest) as caught:
        request_url(_scope(path=path, raw_path=raw.encode("latin-1")))
    assert caught.value.reason == "ambiguous_path"
    if "%2f" not in raw.lower():  # without raw_path an encoded "/" is gone for good
        with pytest.raises(InvalidRequest):
            request_url(_scope(path=path, raw_path=None))


@pytest.mark.parametrize(
    "raw", ["/me", "/a/b/", "/a.b/c..d/...", "/file.txt", "/%41b", "/a%20b", "/.well-known/x"]
)
def test_paths_in_normal_form_are_kept(raw: str) -> None:
    """Dots inside segments, trailing slashes and other escapes are ordinary paths."""
    assert request_url(_scope(raw_path=raw.encode())).endswith(raw)


@pytest.mark.parametrize(
    "hosts",
    [
        [b"api.example.test:8000", b"evil.example.test"],
        [b"api.example.test:8000", b"api.example.test:8000"],
        [b"evil.example.test", b"api.example.test:8000"],
        [b"api.example.test:8000, evil.example.test"],
    ],
)
def test_two_host_headers_refused(hosts: list[bytes]) -> None:
    """Two Host fields (or a list in one) are a forged request, never 'the first' or 'the last'."""
    with pytest.raises(InvalidRequest) as caught:
        request_url(_scope(headers=[(b"host", host) for host in hosts]))
    assert caught.value.reason == "bad_host"
