"""scope_from_environ: a WSGI environ read as the ASGI scope the middleware's helpers expect."""

from __future__ import annotations

from typing import Any

import pytest

from okta_bearer._dpop.url import request_url
from okta_bearer._errors import InvalidRequest
from okta_bearer._http.scope import route_path, scope_from_environ


def environ(**values: Any) -> dict[str, Any]:
    """A minimal WSGI environ for ``GET /`` on api.test, with ``values`` added."""
    base = {
        "REQUEST_METHOD": "GET",
        "SCRIPT_NAME": "",
        "PATH_INFO": "/",
        "QUERY_STRING": "",
        "SERVER_NAME": "api.test",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "wsgi.url_scheme": "http",
        "HTTP_HOST": "api.test",
    }
    return {**base, **values}


def test_the_basics_are_those_of_an_asgi_scope() -> None:
    """Method, scheme, server, client, query string and HTTP version are read as ASGI has them."""
    scope = scope_from_environ(
        environ(
            REQUEST_METHOD="post",
            QUERY_STRING="a=1&b=%C3%A9",
            REMOTE_ADDR="10.0.0.7",
            REMOTE_PORT="5123",
            SERVER_PORT="8443",
            **{"wsgi.url_scheme": "https"},
        )
    )
    assert scope["type"] == "http"
    assert scope["method"] == "POST"
    assert scope["scheme"] == "https"
    assert scope["server"] == ("api.test", 8443)
    assert scope["client"] == ("10.0.0.7", 5123)
    assert scope["query_string"] == b"a=1&b=%C3%A9"
    assert scope["http_version"] == "1.1"


def test_a_hostile_port_is_no_port() -> None:
    """A port that is not a short decimal number (400 digits, negative) is None, not an error."""
    scope = scope_from_environ(environ(SERVER_PORT="9" * 400, REMOTE_ADDR="x", REMOTE_PORT="-1"))
    assert scope["server"] == ("api.test", None)
    assert scope["client"] == ("x", 0)


def test_the_path_is_utf8_text_and_includes_the_root() -> None:
    """PATH_INFO's latin-1 text is re-read as UTF-8; root_path is SCRIPT_NAME and prefixes path."""
    scope = scope_from_environ(
        environ(SCRIPT_NAME="/api", PATH_INFO="/caf\u00c3\u00a9", RAW_URI="/api/caf%C3%A9?x=1")
    )
    assert scope["root_path"] == "/api"
    assert scope["path"] == "/api/caf\u00e9"
    assert route_path(scope) == "/caf\u00e9"
    assert scope["raw_path"] == b"/api/caf%C3%A9"


def test_raw_path_comes_from_request_uri_too() -> None:
    """Werkzeug's server names the request target REQUEST_URI; gunicorn's RAW_URI comes first."""
    assert scope_from_environ(environ(REQUEST_URI="/a%2Fb?q"))["raw_path"] == b"/a%2Fb"
    both = environ(RAW_URI="/raw", REQUEST_URI="/request")
    assert scope_from_environ(both)["raw_path"] == b"/raw"
    assert "raw_path" not in scope_from_environ(environ())


@pytest.mark.parametrize("target", ["/admin/../me", "/a%2Fb", "/a//b", "/%2e%2e/me"])
def test_an_ambiguous_raw_path_is_refused_as_on_asgi(target: str) -> None:
    """DPoP's htu URL is built from raw_path, so a path in non-normal form is a 400 here too."""
    scope = scope_from_environ(environ(PATH_INFO="/me", RAW_URI=target))
    with pytest.raises(InvalidRequest) as caught:
        request_url(scope)
    assert caught.value.reason == "ambiguous_path"


def test_request_url_is_the_one_the_client_addressed() -> None:
    """Host header, scheme and raw path give the URL a DPoP proof's htu is compared with."""
    scope = scope_from_environ(environ(SCRIPT_NAME="/api", PATH_INFO="/me", RAW_URI="/api/me"))
    assert request_url(scope) == "http://api.test/api/me"


def test_headers_are_lowercase_byte_pairs() -> None:
    """HTTP_* keys become header names with dashes; CONTENT_TYPE/LENGTH are headers too."""
    scope = scope_from_environ(
        environ(HTTP_X_REQUEST_ID="r1", CONTENT_TYPE="application/json", CONTENT_LENGTH="2")
    )
    headers = dict(scope["headers"])
    assert headers[b"x-request-id"] == b"r1"
    assert headers[b"content-type"] == b"application/json"
    assert headers[b"content-length"] == b"2"
    assert headers[b"host"] == b"api.test"


def test_header_bytes_survive_as_sent() -> None:
    """A header's latin-1 text goes back to the exact bytes the client sent."""
    scope = scope_from_environ(environ(HTTP_AUTHORIZATION="Bearer \xff\x00"))
    assert dict(scope["headers"])[b"authorization"] == b"Bearer \xff\x00"


@pytest.mark.parametrize(
    ("joined", "fields"),
    [
        ("Bearer a,Bearer b", [b"Bearer a", b"Bearer b"]),  # gunicorn joins with ","
        ("Bearer a, Bearer b", [b"Bearer a", b"Bearer b"]),  # Werkzeug with ", "
        ("Basic dXNlcg==,Bearer b", [b"Basic dXNlcg==", b"Bearer b"]),
        (",", [b"", b""]),  # two empty headers
        ("Bearer a,x", [b"Bearer a", b"x"]),
        ("Bearer a,", [b"Bearer a", b""]),
        ('Digest username="a", realm="b"', [b'Digest username="a", realm="b"']),
        ('MAC id="h4", nonce="26:dj"', [b'MAC id="h4", nonce="26:dj"']),
        ("Bearer abc==", [b"Bearer abc=="]),
    ],
)
def test_joined_authorization_headers_are_split_back(joined: str, fields: list[bytes]) -> None:
    """A comma that starts new credentials separates two fields, as two headers reach ASGI."""
    scope = scope_from_environ(environ(HTTP_AUTHORIZATION=joined))
    assert [v for k, v in scope["headers"] if k == b"authorization"] == fields


def test_joined_dpop_proofs_are_two_proofs() -> None:
    """A compact JWS holds no comma: a joined DPoP value is split at each one."""
    scope = scope_from_environ(environ(HTTP_DPOP="a.b.c, d.e.f"))
    assert [v for k, v in scope["headers"] if k == b"dpop"] == [b"a.b.c", b"d.e.f"]
