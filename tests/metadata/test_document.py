"""RFC 9728 metadata from configuration: identifiers, URLs, document, responses (pure)."""

from __future__ import annotations

import json

import pytest

from okta_bearer import ConfigurationError, ProtectedResource
from okta_bearer._http.metadata import WELL_KNOWN_PATH, metadata_url, resource_identifier

ISSUER = "https://okta.example.test/oauth2/default"


@pytest.mark.parametrize(
    "value",
    [
        "https://api.example/mcp",
        "https://api.example",
        "https://API.example:8443/a/b/",
        "http://127.0.0.1:8000/mcp",
        "http://localhost/mcp",
        "http://[::1]:9000/mcp",
    ],
)
def test_resource_identifier_is_kept_byte_for_byte(value: str) -> None:
    """A valid identifier comes back unchanged (no case folding, no slash added or removed)."""
    assert resource_identifier(value) == value


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("http://api.example/mcp", "https://"),
        ("https://api.example/mcp#frag", "fragment"),
        ("https://api.example/mcp#", "fragment"),
        ("https://api.example/mcp?tenant=1", "query"),
        ("https://user:pw@api.example/mcp", "user info"),
        ("/mcp", "absolute"),
        ("api.example/mcp", "absolute"),
        ("ftp://api.example/mcp", "absolute"),
        ("https://api.example/m cp", "spaces"),
        ('https://api.example/m"cp', "quotes"),
        ("https://api.example:99999/mcp", "not a valid URL"),
        ("", "URL string"),
    ],
)
def test_bad_resource_identifier_names_the_option(value: str, words: str) -> None:
    """A bad identifier is a ConfigurationError naming `resource` and the problem."""
    with pytest.raises(ConfigurationError, match="resource") as caught:
        ProtectedResource(value)
    assert words in str(caught.value)


@pytest.mark.parametrize(
    ("resource", "url"),
    [
        ("https://api.example/mcp", f"https://api.example{WELL_KNOWN_PATH}/mcp"),
        ("https://api.example", f"https://api.example{WELL_KNOWN_PATH}"),
        ("https://api.example/", f"https://api.example{WELL_KNOWN_PATH}"),
        ("https://api.example:8443/a/b/", f"https://api.example:8443{WELL_KNOWN_PATH}/a/b/"),
        ("http://127.0.0.1:9/mcp", f"http://127.0.0.1:9{WELL_KNOWN_PATH}/mcp"),
    ],
)
def test_metadata_url_inserts_the_well_known_suffix(resource: str, url: str) -> None:
    """RFC 9728 3.1: the suffix goes between host and path; a lone trailing '/' is dropped."""
    assert metadata_url(resource) == url


def test_paths_are_the_path_inserted_and_the_bare_form() -> None:
    """A resource with a path is served at both well-known paths clients try."""
    paths = ProtectedResource("https://api.example/mcp").paths
    assert paths == {f"{WELL_KNOWN_PATH}/mcp", WELL_KNOWN_PATH}


def test_document_has_the_required_members_and_nothing_unset() -> None:
    """resource (verbatim), authorization_servers and bearer_methods_supported; no empty extras."""
    doc = ProtectedResource("https://API.example/mcp", authorization_servers=[ISSUER]).document()
    assert doc == {
        "resource": "https://API.example/mcp",
        "authorization_servers": [ISSUER],
        "bearer_methods_supported": ["header"],
    }


def test_document_carries_the_optional_members() -> None:
    """Scopes, signing algorithms and the human-facing members appear when configured."""
    doc = ProtectedResource(
        "https://api.example/mcp",
        authorization_servers=[ISSUER],
        scopes_supported=["items:read", "items:write"],
        resource_signing_alg_values_supported=["PS256"],
        resource_name="Items",
        resource_documentation="https://api.example/docs",
        resource_policy_uri="https://api.example/policy",
        resource_tos_uri="https://api.example/tos",
    ).document()
    assert doc["scopes_supported"] == ["items:read", "items:write"]
    assert doc["resource_signing_alg_values_supported"] == ["PS256"]
    assert doc["resource_name"] == "Items"
    assert doc["resource_documentation"] == "https://api.example/docs"
    assert doc["resource_policy_uri"] == "https://api.example/policy"
    assert doc["resource_tos_uri"] == "https://api.example/tos"


@pytest.mark.parametrize(
    ("options", "option"),
    [
        ({"resource_signing_alg_values_supported": ["none"]}, "resource_signing_alg"),
        ({"scopes_supported": "items:read"}, "scopes_supported"),
        ({"scopes_supported": ['a"b']}, "scopes_supported"),
        ({"authorization_servers": ["http://evil.example"]}, "authorization_servers"),
        ({"authorization_servers": ISSUER}, "authorization_servers"),
        ({"resource_documentation": "javascript:alert(1)"}, "resource_documentation"),
        ({"resource_name": ""}, "resource_name"),
        ({"max_age": -1}, "max_age"),
        ({"max_age": True}, "max_age"),
    ],
)
def test_bad_metadata_options_name_the_option(options: dict[str, object], option: str) -> None:
    """Every metadata option is checked at construction."""
    with pytest.raises(ConfigurationError, match=option):
        ProtectedResource("https://api.example/mcp", **options)  # type: ignore[arg-type]


def test_get_is_public_cacheable_json() -> None:
    """GET answers 200 JSON with Cache-Control public max-age and a wildcard CORS origin."""
    resource = ProtectedResource("https://api.example/mcp", authorization_servers=[ISSUER])
    status, headers, body = resource.response("GET")
    found = dict(headers)
    assert status == 200
    assert found[b"content-type"] == b"application/json"
    assert found[b"cache-control"] == b"public, max-age=3600"
    assert found[b"access-control-allow-origin"] == b"*"
    assert json.loads(body) == resource.document()


def test_head_has_the_headers_without_the_body() -> None:
    """HEAD answers like GET with an empty body and GET's content-length."""
    resource = ProtectedResource("https://api.example/mcp", authorization_servers=[ISSUER])
    _, get_headers, body = resource.response("GET")
    status, headers, head_body = resource.response("HEAD")
    assert (status, head_body) == (200, b"")
    assert (
        dict(headers)[b"content-length"]
        == str(len(body)).encode()
        == dict(get_headers)[b"content-length"]
    )


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH"])
def test_other_methods_are_405(method: str) -> None:
    """The document is read-only: other methods get 405 with Allow."""
    status, headers, body = ProtectedResource("https://api.example/mcp").response(method)
    assert (status, body) == (405, b"")
    assert dict(headers)[b"allow"] == b"GET, HEAD, OPTIONS"


def test_preflight_is_allowed() -> None:
    """An OPTIONS preflight from a browser-based client gets 204 allowing GET."""
    status, headers, _ = ProtectedResource("https://api.example/mcp").response("OPTIONS")
    assert status == 204
    assert dict(headers)[b"access-control-allow-methods"] == b"GET, HEAD"
