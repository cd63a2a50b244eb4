"""/v1/authorize: what is never redirected, and every error sent back in the fragment."""

from __future__ import annotations

import httpx
import pytest

from okta_bearer.dev_issuer import DevClient, DevIssuer
from okta_bearer.testing import LocalIssuer

from .helpers import BASE, CLIENT_ID, DOCS, SPA, authorize_params, fragment, query

pytestmark = pytest.mark.anyio

AUTHORIZE = f"{BASE}/v1/authorize"


@pytest.mark.parametrize(
    ("params", "text"),
    [
        pytest.param(authorize_params(client_id=None), "exactly one client_id", id="no-client"),
        pytest.param(authorize_params(client_id=""), "exactly one client_id", id="empty-client"),
        pytest.param(authorize_params(client_id="0oaunknown"), "not registered", id="unknown"),
        pytest.param(authorize_params(redirect_uri=None), "(missing or repeated)", id="no-uri"),
        pytest.param(
            authorize_params(redirect_uri="https://evil.example/"), "evil.example", id="foreign"
        ),
        pytest.param(
            authorize_params(redirect_uri="http://127.0.0.1:9402"), "not registered", id="no-slash"
        ),
        pytest.param(
            authorize_params(redirect_uri=SPA + "callback"), "not registered", id="sub-path"
        ),
        pytest.param(
            authorize_params(redirect_uri=SPA + "?x=1"), "not registered", id="extra-query"
        ),
    ],
)
async def test_untrusted_client_or_redirect_gets_an_error_page(
    client: httpx.AsyncClient, params: dict[str, str], text: str
) -> None:
    """An unknown client or unregistered redirect URI gets an error page, never a redirect."""
    response = await client.get(AUTHORIZE, params=params)
    assert response.status_code == 400
    assert "location" not in response.headers
    assert response.headers["content-type"].startswith("text/html")
    assert text in response.text
    assert "evil.example/#" not in response.text


async def test_repeated_client_id_is_not_trusted(client: httpx.AsyncClient) -> None:
    """Two client_id parameters make the request untrustworthy: an error page, no redirect."""
    params = httpx.QueryParams([*authorize_params().items(), ("client_id", "0oaother")])
    response = await client.get(AUTHORIZE, params=params)
    assert response.status_code == 400
    assert "location" not in response.headers


async def test_error_page_escapes_what_it_echoes(client: httpx.AsyncClient) -> None:
    """The rejected redirect URI is shown HTML-escaped, so it cannot inject markup."""
    evil = 'https://x.example/"><script>alert(1)</script>'
    response = await client.get(AUTHORIZE, params=authorize_params(redirect_uri=evil))
    assert response.status_code == 400
    assert "<script>alert(1)" not in response.text
    assert "&lt;script&gt;" in response.text


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"response_type": None}, "invalid_request"),
        ({"response_type": "code token"}, "unsupported_response_type"),
        ({"response_type": "password"}, "unsupported_response_type"),
        ({"response_type": "code id_token"}, "unsupported_response_type"),
        ({"scope": "openid items:delete"}, "invalid_scope"),
        ({"scope": "items:read"}, "invalid_scope"),
        ({"scope": None}, "invalid_scope"),
        ({"scope": ""}, "invalid_scope"),
        ({"response_type": "id_token", "nonce": None}, "invalid_request"),
        ({"response_type": "id_token token", "nonce": None}, "invalid_request"),
        ({"response_type": "token id_token", "nonce": ""}, "invalid_request"),
        ({"response_mode": "query"}, "invalid_request"),
        ({"response_mode": "form_post"}, "invalid_request"),
        ({"prompt": "select_account"}, "invalid_request"),
        ({"prompt": "none login"}, "invalid_request"),
        ({"prompt": "none"}, "login_required"),
    ],
)
async def test_errors_are_redirected_in_the_fragment_with_state(
    client: httpx.AsyncClient, overrides: dict[str, str | None], error: str
) -> None:
    """Each implicit error goes back in the fragment with state echoed (RFC 6749 4.2.2.1)."""
    response = await client.get(AUTHORIZE, params=authorize_params(**overrides))
    assert response.status_code == 302
    assert response.headers["location"].startswith(SPA + "#")
    params = fragment(response)
    assert params["error"] == error
    assert params["error_description"]
    assert params["state"] == "state-296bc9a0"
    assert "access_token" not in params
    assert response.headers["cache-control"] == "no-store"


async def test_repeated_parameter_is_invalid_request(client: httpx.AsyncClient) -> None:
    """A parameter sent twice (other than client_id/redirect_uri) is an invalid_request redirect."""
    params = httpx.QueryParams([*authorize_params().items(), ("scope", "openid")])
    response = await client.get(AUTHORIZE, params=params)
    assert fragment(response)["error"] == "invalid_request"


async def test_error_without_state_sends_no_state(client: httpx.AsyncClient) -> None:
    """State is echoed only when the client sent one."""
    response = await client.get(AUTHORIZE, params=authorize_params(state=None, scope="nope"))
    params = fragment(response)
    assert params["error"] == "invalid_scope"
    assert "state" not in params


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"code_challenge": None}, "invalid_request"),
        ({"code_challenge_method": "plain"}, "invalid_request"),
        ({"code_challenge_method": None}, "invalid_request"),
        ({"code_challenge": "short"}, "invalid_request"),
        ({"scope": "profile"}, "invalid_scope"),
        ({"prompt": "none"}, "login_required"),
    ],
)
async def test_code_flow_errors_go_in_the_query(
    client: httpx.AsyncClient, overrides: dict[str, str | None], error: str
) -> None:
    """For response_type=code, PKCE is mandatory (S256 only) and errors use the query string."""
    params = authorize_params(
        response_type="code",
        code_challenge="E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
        code_challenge_method="S256",
    )
    params.update({k: v for k, v in overrides.items() if v is not None})
    for key in [k for k, v in overrides.items() if v is None]:
        del params[key]
    response = await client.get(AUTHORIZE, params=params)
    assert response.status_code == 302
    assert response.headers["location"].startswith(SPA + "?")
    found = query(response)
    assert found["error"] == error
    assert found["state"] == "state-296bc9a0"


async def test_valid_request_without_session_shows_sign_in(client: httpx.AsyncClient) -> None:
    """A valid request from a browser with no session gets the hosted sign-in page."""
    response = await client.get(AUTHORIZE, params=authorize_params())
    assert response.status_code == 200
    assert "location" not in response.headers
    assert 'name="password"' in response.text
    assert CLIENT_ID in response.text
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["cache-control"] == "no-store"


async def test_both_registered_redirect_uris_are_accepted(client: httpx.AsyncClient) -> None:
    """Every registered redirect URI (the SPA's and Swagger UI's) is accepted exactly."""
    for uri in (SPA, DOCS):
        response = await client.get(AUTHORIZE, params=authorize_params(redirect_uri=uri))
        assert response.status_code == 200


async def test_default_scope_lifts_the_openid_requirement(local: LocalIssuer) -> None:
    """With a default scope configured, openid is optional and an empty scope gets the default."""
    dev = DevIssuer(local, clients=[DevClient(CLIENT_ID, (SPA,))], default_scopes=("items:read",))
    transport = httpx.ASGITransport(app=dev)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:9400") as c:
        for scope in ("items:read", None):
            response = await c.get(AUTHORIZE, params=authorize_params(scope=scope))
            assert response.status_code == 200, response.headers.get("location")
            assert "items:read" in response.text
        response = await c.get(
            AUTHORIZE, params=authorize_params(scope="items:read", response_type="id_token")
        )
        assert fragment(response)["error"] == "invalid_scope"


def test_default_scopes_must_be_offered(local: LocalIssuer) -> None:
    """A default scope the server does not offer is a configuration error."""
    with pytest.raises(ValueError, match="default_scopes"):
        DevIssuer(local, default_scopes=("nope",))
