"""DRF step-up (RFC 9470): the StepUp permission, per method, with and without the middleware."""

from __future__ import annotations

import time
from typing import Any

import pytest
from django.test import Client, override_settings

from okta_bearer import ConfigurationError
from okta_bearer.django.drf import StepUp
from okta_bearer.testing import LocalIssuer

from .helpers import NO_MIDDLEWARE, bearer
from .project import REST_FRAMEWORK
from .views import ACR, REACHED


def strong(issuer: LocalIssuer, **claims: Any) -> str:
    """A token signed in with a second factor just now."""
    return issuer.mint(acr=ACR, auth_time=int(time.time()), **claims)


def test_weak_sign_in_is_401_insufficient_user_authentication(
    setup: str, okta_django: LocalIssuer
) -> None:
    """POST without the second factor: 401 with acr_values, max_age and the method's scope."""
    token = okta_django.mint(scp=["payments:write"], acr="urn:okta:loa:1fa:pwd")
    refused = Client().post("/drf/pay", headers=bearer(token))
    assert refused.status_code == 401
    challenge = refused["WWW-Authenticate"]
    assert challenge.startswith('Bearer realm="api", error="insufficient_user_authentication"')
    assert f'acr_values="{ACR}"' in challenge
    assert 'max_age="300"' in challenge
    assert 'scope="payments:write"' in challenge
    assert refused["Cache-Control"] == "no-store"
    assert refused.json()["error"] == "insufficient_user_authentication"
    assert REACHED == []


def test_old_sign_in_is_401(setup: str, okta_django: LocalIssuer) -> None:
    """The right acr but a sign-in older than max_age: 401 insufficient_user_authentication."""
    token = okta_django.mint(scp=["payments:write"], acr=ACR, auth_time=int(time.time()) - 3600)
    refused = Client().post("/drf/pay", headers=bearer(token))
    assert refused.status_code == 401
    assert 'error="insufficient_user_authentication"' in refused["WWW-Authenticate"]


@pytest.mark.parametrize("auth_time", [10**400, -1, 1.5e300, True, "now", None])
def test_hostile_auth_time_is_401_never_500(
    setup: str, okta_django: LocalIssuer, auth_time: object
) -> None:
    """A huge, negative, boolean or non-numeric auth_time is 401, never a 500."""
    token = okta_django.mint(scp=["payments:write"], acr=ACR, auth_time=auth_time)
    refused = Client().post("/drf/pay", headers=bearer(token))
    assert refused.status_code == 401
    assert 'error="insufficient_user_authentication"' in refused["WWW-Authenticate"]


def test_strong_recent_sign_in_passes(setup: str, okta_django: LocalIssuer) -> None:
    """A recent second factor with the scope reaches the view."""
    response = Client().post(
        "/drf/pay", headers=bearer(strong(okta_django, scp=["payments:write"]))
    )
    assert response.status_code == 200
    assert REACHED == ["drf_pay.post"]


def test_methods_not_listed_need_no_step_up(setup: str, okta_django: LocalIssuer) -> None:
    """methods=["POST"]: GET, HEAD and OPTIONS with a password-only token are served."""
    token = bearer(okta_django.mint(scp=["items:read"], acr="urn:okta:loa:1fa:pwd"))
    client = Client()
    assert client.get("/drf/pay", headers=token).status_code == 200
    assert client.head("/drf/pay", headers=token).status_code == 200
    assert client.options("/drf/pay", headers=token).status_code == 200


def test_missing_scope_is_still_403(setup: str, okta_django: LocalIssuer) -> None:
    """A strong sign-in without the method's scope: 403 insufficient_scope, not 401."""
    refused = Client().post("/drf/pay", headers=bearer(strong(okta_django, scp=["items:read"])))
    assert refused.status_code == 403
    assert 'error="insufficient_scope"' in refused["WWW-Authenticate"]


@pytest.mark.parametrize("method", ["GET", "HEAD", "OPTIONS", "PUT", "PROPFIND"])
def test_every_method_when_methods_is_none(
    setup: str, okta_django: LocalIssuer, method: str
) -> None:
    """StepUp without methods: OPTIONS, HEAD and unknown methods need the step-up too (401)."""
    weak = okta_django.mint(scp=["items:read"])
    refused = Client().generic(method, "/drf/stepup", headers=bearer(weak))
    assert refused.status_code == 401
    assert 'error="insufficient_user_authentication"' in refused["WWW-Authenticate"]
    assert REACHED == []


@pytest.mark.parametrize("method", ["GET", "HEAD", "OPTIONS", "PUT", "PROPFIND"])
def test_no_token_is_401_with_a_bare_challenge(setup: str, method: str) -> None:
    """No token on a step-up view: DRF's 401 with the library's challenge, for every method."""
    refused = Client().generic(method, "/drf/stepup")
    assert refused.status_code == 401
    assert refused["WWW-Authenticate"].startswith('Bearer realm="api"')
    assert REACHED == []


@pytest.mark.parametrize("method", ["PUT", "PROPFIND"])
def test_unknown_method_with_step_up_is_405(
    setup: str, okta_django: LocalIssuer, method: str
) -> None:
    """A strong token on a method the view lacks gets DRF's 405, after authentication."""
    response = Client().generic(
        method, "/drf/stepup", headers=bearer(strong(okta_django, scp=["items:read"]))
    )
    assert response.status_code == 405


def test_drf_default_exception_handler_keeps_the_challenge(okta_django: LocalIssuer) -> None:
    """With DRF's own exception handler, the 401 still carries acr_values and max_age."""
    plain = {k: v for k, v in REST_FRAMEWORK.items() if k != "EXCEPTION_HANDLER"}
    token = okta_django.mint(scp=["payments:write"])
    with NO_MIDDLEWARE, override_settings(REST_FRAMEWORK=plain):
        refused = Client().post("/drf/pay", headers=bearer(token))
    assert refused.status_code == 401
    challenge = refused["WWW-Authenticate"]
    assert 'error="insufficient_user_authentication"' in challenge
    assert f'acr_values="{ACR}"' in challenge
    assert 'max_age="300"' in challenge


def test_clock_is_injectable(okta_django: LocalIssuer) -> None:
    """StepUp judges auth_time against its clock: a sign-in 301 s before it is too old."""
    from rest_framework.test import APIRequestFactory

    from okta_bearer.django.drf import BearerRefusal

    from .views import DrfPay

    signed_in = 1_700_000_000
    permission = StepUp(max_age=300, clock=lambda: signed_in + 301)
    request = APIRequestFactory().post("/drf/pay")
    token = okta_django.mint(scp=["payments:write"], auth_time=signed_in)
    request.META["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    from rest_framework.request import Request

    from okta_bearer.django.drf import BearerAuthentication

    drf_request = Request(request, authenticators=[BearerAuthentication()])
    with pytest.raises(BearerRefusal) as refused:
        permission.has_permission(drf_request, DrfPay())
    assert refused.value.status_code == 401
    assert StepUp(max_age=300, clock=lambda: signed_in + 300).has_permission(drf_request, DrfPay())


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({}, "acr_values or max_age"),
        ({"acr_values": "urn:okta:loa:2fa:any"}, "acr_values"),
        ({"acr_values": ['bad "quote"']}, "acr_values"),
        ({"max_age": -1}, "max_age"),
        ({"max_age": True}, "max_age"),
        ({"max_age": 1.5}, "max_age"),
        ({"max_age": 300, "methods": "POST"}, "methods"),
        ({"max_age": 300, "methods": []}, "methods"),
        ({"max_age": 300, "methods": ["PO ST"]}, "methods"),
    ],
)
def test_wrong_configuration_is_refused_at_declaration(
    options: dict[str, object], named: str
) -> None:
    """A wrong StepUp option raises ConfigurationError naming it, when the view is defined."""
    with pytest.raises(ConfigurationError, match=named):
        StepUp(**options)  # type: ignore[arg-type]
