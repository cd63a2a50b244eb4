"""The Django middleware and decorators: the ASGI middleware's answers, through Django."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client, override_settings

from okta_bearer.testing import LocalIssuer

from .helpers import bearer
from .project import base_options
from .views import REACHED


def test_valid_token_reaches_the_view_with_claims(client: Client, okta_django: LocalIssuer) -> None:
    """A valid token runs the view with request.claims set to its claims."""
    response = client.get("/items", headers=bearer(okta_django.mint()))
    assert response.status_code == 200
    assert response.json() == {"view": "items", "sub": "alice@example.com"}


def test_no_token_is_401_with_a_bare_challenge(client: Client) -> None:
    """No token: 401, a challenge without an error, an RFC 6750 JSON body, no-store, no view."""
    response = client.get("/items")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'
    assert response["Content-Type"] == "application/json"
    assert response["Cache-Control"] == "no-store"
    assert response.json()["error"] is None
    assert REACHED == []


def test_expired_token_is_401_invalid_token(client: Client, okta_django: LocalIssuer) -> None:
    """An expired token: 401 invalid_token, and the token is nowhere in the answer."""
    token = okta_django.mint(exp=1)
    response = client.get("/items", headers=bearer(token))
    assert response.status_code == 401
    assert 'error="invalid_token"' in response["WWW-Authenticate"]
    assert token not in response.content.decode() + str(response.headers)
    assert REACHED == []


@pytest.mark.parametrize("method", ["options", "head", "put", "delete", "patch"])
def test_every_method_needs_a_token(client: Client, method: str) -> None:
    """OPTIONS, HEAD and methods no view serves are refused without a token, like GET."""
    for path in ("/items", "/things", "/drf/items", "/nowhere"):
        response = getattr(client, method)(path)
        assert response.status_code == 401, (method, path)
        assert response["WWW-Authenticate"] == 'Bearer realm="api"'
    assert REACHED == []


def test_unknown_method_needs_a_token(client: Client) -> None:
    """A method Django has no name for (PROPFIND) is refused before routing."""
    response = client.generic("PROPFIND", "/things")
    assert response.status_code == 401
    assert REACHED == []


def test_public_path_needs_no_token(client: Client) -> None:
    """A public path runs its view without a token, with request.claims None."""
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"view": "health", "sub": None}


def test_require_scopes_missing_scope_is_403(client: Client, okta_django: LocalIssuer) -> None:
    """@require_scopes refuses a token without the scope: 403 insufficient_scope naming it."""
    response = client.get("/write", headers=bearer(okta_django.mint(scp=["items:read"])))
    assert response.status_code == 403
    challenge = response["WWW-Authenticate"]
    assert 'error="insufficient_scope"' in challenge
    assert 'scope="items:write"' in challenge
    assert response.json()["missing_scope"] == "items:write"
    assert REACHED == []


def test_require_scopes_granted(client: Client, okta_django: LocalIssuer) -> None:
    """@require_scopes runs the view for a token holding the scope."""
    response = client.get("/write", headers=bearer(okta_django.mint(scp=["items:write"])))
    assert response.status_code == 200
    assert REACHED == ["write"]


def test_require_scopes_on_a_public_path_is_401_anonymous(client: Client) -> None:
    """A decorated view on a public path answers an anonymous caller with 401."""
    response = client.get("/public/scoped")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'
    assert REACHED == []


def test_step_up_refused_names_the_requirement(client: Client, okta_django: LocalIssuer) -> None:
    """@require_auth refuses a sign-in without the acr: 401 with acr_values and max_age."""
    response = client.get("/pay", headers=bearer(okta_django.mint(acr="urn:okta:loa:1fa:any")))
    assert response.status_code == 401
    challenge = response["WWW-Authenticate"]
    assert 'error="insufficient_user_authentication"' in challenge
    assert 'acr_values="urn:okta:loa:2fa:any"' in challenge
    assert 'max_age="300"' in challenge
    assert REACHED == []


def test_step_up_met(client: Client, okta_django: LocalIssuer) -> None:
    """@require_auth runs the view for a recent second-factor sign-in."""
    token = okta_django.mint(acr="urn:okta:loa:2fa:any")
    assert client.get("/pay", headers=bearer(token)).status_code == 200


def test_class_based_view_method_decorator(client: Client, okta_django: LocalIssuer) -> None:
    """method_decorator(require_scopes(...)) guards one method of a class-based view."""
    token = okta_django.mint(scp=["items:read"])
    assert client.get("/things", headers=bearer(token)).status_code == 200
    assert client.post("/things", headers=bearer(token)).status_code == 403
    assert REACHED == ["things.get"]


def test_error_raised_by_a_view_is_answered(client: Client, okta_django: LocalIssuer) -> None:
    """A BearerError a view raises becomes its RFC 6750 answer (process_exception), not a 500."""
    response = client.get("/raises", headers=bearer(okta_django.mint()))
    assert response.status_code == 403
    assert 'scope="admin"' in response["WWW-Authenticate"]


def test_two_authorization_values_are_400(client: Client, okta_django: LocalIssuer) -> None:
    """A WSGI-joined pair of Authorization fields is two fields: 400 invalid_request."""
    token = okta_django.mint()
    response = client.get("/items", HTTP_AUTHORIZATION=f"Bearer {token},Bearer {token}")
    assert response.status_code == 400
    assert 'error="invalid_request"' in response["WWW-Authenticate"]
    assert REACHED == []


def test_query_token_with_a_header_is_400(client: Client, okta_django: LocalIssuer) -> None:
    """A token in the header and access_token in the query: 400 (two methods)."""
    token = okta_django.mint()
    response = client.get("/items?access_token=x", headers=bearer(token))
    assert response.status_code == 400


def test_async_view_through_the_async_client(okta_django: LocalIssuer) -> None:
    """Under ASGI (AsyncClient) the middleware verifies in a thread and async views run."""
    from asgiref.sync import async_to_sync
    from django.test import AsyncClient

    async def run() -> tuple[Any, Any, Any]:
        client = AsyncClient()
        ok = await client.get("/async/items", headers=bearer(okta_django.mint()))
        missing = await client.get("/async/items")
        weak = await client.get("/async/items", headers=bearer(okta_django.mint(scp=["x"])))
        return ok, missing, weak

    ok, missing, weak = async_to_sync(run)()
    assert (ok.status_code, missing.status_code, weak.status_code) == (200, 401, 403)
    assert ok.json() == {"view": "async_items", "sub": "alice@example.com"}


def test_required_scopes_setting(okta_django: LocalIssuer) -> None:
    """OKTA_BEARER["required_scopes"] is checked for every protected request: 403 without it."""
    options = base_options(okta_django, required_scopes=["items:admin"])
    with override_settings(OKTA_BEARER=options):
        response = Client().get("/items", headers=bearer(okta_django.mint()))
    assert response.status_code == 403
    assert json.loads(response.content)["missing_scope"] == "items:admin"


def test_optional_lets_anonymous_requests_in(okta_django: LocalIssuer) -> None:
    """With "optional": True, no token reaches the view with request.claims None."""
    with override_settings(OKTA_BEARER=base_options(okta_django, optional=True)):
        response = Client().get("/items")
    assert response.status_code == 200
    assert response.json()["sub"] is None


def test_keys_outage_is_503_with_retry_after(okta_django: LocalIssuer) -> None:
    """The issuer unreachable: 503 with Retry-After and no challenge, never a 500."""
    import httpx

    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("down", request=request)

    options = base_options(okta_django, transport=httpx.MockTransport(down))
    with override_settings(OKTA_BEARER=options):
        response = Client().get("/items", headers=bearer(okta_django.mint()))
    assert response.status_code == 503
    assert int(response["Retry-After"]) > 0
    assert "WWW-Authenticate" not in response
    assert REACHED == []


def test_metadata_document_when_resource_is_set(okta_django: LocalIssuer) -> None:
    """With "resource", the RFC 9728 document is served without a token and named in challenges."""
    options = base_options(okta_django, resource="https://api.example.test/")
    with override_settings(OKTA_BEARER=options):
        client = Client()
        document = client.get("/.well-known/oauth-protected-resource")
        refused = client.get("/items")
    assert document.status_code == 200
    assert document.json()["resource"] == "https://api.example.test/"
    assert document.json()["authorization_servers"] == [okta_django.issuer]
    assert "resource_metadata=" in refused["WWW-Authenticate"]


def test_introspection_verifier_from_settings(okta_django: LocalIssuer) -> None:
    """An IntrospectionVerifier in OKTA_BEARER["verifier"] judges opaque tokens through Django."""
    from okta_bearer.testing import IntrospectionServer

    server = IntrospectionServer(okta_django)
    options = {"verifier": server.verifier(), "public_paths": ["/health"]}
    token = server.mint_opaque(scp=["items:write"])
    with override_settings(OKTA_BEARER=options):
        client = Client()
        ok = client.get("/write", headers=bearer(token))
        server.revoke(token)
        unknown = client.get("/items", headers=bearer(server.mint_opaque()[:-2] + "xx"))
    assert ok.status_code == 200
    assert ok.json()["sub"] == "alice@example.com"
    assert unknown.status_code == 401
    assert server.count("/v1/introspect") >= 2


def test_verifier_as_a_dotted_path(okta_django: LocalIssuer) -> None:
    """OKTA_BEARER["verifier"] may name a factory by its dotted path."""
    global FACTORY_ISSUER
    FACTORY_ISSUER = okta_django
    with override_settings(OKTA_BEARER={"verifier": f"{__name__}.make_verifier"}):
        response = Client().get("/items", headers=bearer(okta_django.mint()))
    assert response.status_code == 200


FACTORY_ISSUER: LocalIssuer | None = None


def make_verifier() -> Any:
    """A verifier factory named by a dotted path in the settings."""
    assert FACTORY_ISSUER is not None
    return FACTORY_ISSUER.verifier()


def test_public_paths_are_relative_to_script_name(client: Client, okta_django: LocalIssuer) -> None:
    """Mounted under a prefix (SCRIPT_NAME), public paths are the project's own URLs."""
    assert client.get("/health", SCRIPT_NAME="/api").status_code == 200
    assert client.get("/items", SCRIPT_NAME="/api").status_code == 401
    ok = client.get("/items", SCRIPT_NAME="/api", headers=bearer(okta_django.mint()))
    assert ok.status_code == 200
