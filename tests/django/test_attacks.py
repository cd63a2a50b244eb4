"""Attacks on the Django and DRF integration: hostile requests and hostile-looking settings."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.core.cache import cache
from django.core.checks import run_checks
from django.test import Client, override_settings
from rest_framework.permissions import AllowAny

from okta_bearer.django.drf import BearerAuthentication
from okta_bearer.testing import LocalIssuer

from .helpers import NO_MIDDLEWARE, bearer
from .project import base_options
from .views import REACHED

SECURITY_MIDDLEWARE = "django.middleware.security.SecurityMiddleware"


def e001(**options: Any) -> str:
    """The okta_bearer.E001 message for ``OKTA_BEARER`` with ``options`` (empty if none)."""
    with override_settings(OKTA_BEARER={**base_options(), **options}):
        found = [m.msg for m in run_checks() if m.id == "okta_bearer.E001"]
    return found[0] if found else ""


@pytest.mark.parametrize("value", ["false", "no", 0, 1, None])
def test_optional_must_be_a_bool(value: object) -> None:
    """A truthy string such as "false" for optional is E001, not a project open to anyone."""
    assert "optional must be True or False" in e001(optional=value)


@pytest.mark.parametrize("value", ["no", 0])
def test_error_details_must_be_a_bool(value: object) -> None:
    """error_details given as a string or a number is E001 naming it."""
    assert "error_details must be True or False" in e001(error_details=value)


@pytest.mark.parametrize("option", ["public_paths", "required_scopes"])
@pytest.mark.parametrize("value", [5, 2.5, True])
def test_list_options_given_a_number_are_named(option: str, value: object) -> None:
    """A number where a list of paths or scopes is expected is E001, not a crash of the check."""
    assert f"{option} must be a list" in e001(**{option: value})


@pytest.fixture
def attack_urls() -> Iterator[None]:
    """The views of tests/django/attack_urls.py, and an empty cache (DRF's throttle counts)."""
    with override_settings(ROOT_URLCONF="tests.django.attack_urls"):
        cache.clear()
        yield
        cache.clear()


def test_drf_user_throttle_counts_each_caller_apart(
    setup: str, attack_urls: None, okta_django: LocalIssuer
) -> None:
    """DRF's UserRateThrottle keys on request.user.pk: one caller's requests never use another's."""
    client = Client()
    mallory = bearer(okta_django.mint(sub="mallory@example.com"))
    assert client.get("/throttled", headers=mallory).status_code == 200
    assert client.get("/throttled", headers=mallory).status_code == 429
    alice = client.get("/throttled", headers=bearer(okta_django.mint(sub="alice@example.com")))
    assert alice.status_code == 200


@pytest.mark.parametrize(
    "rest",
    [
        {"DEFAULT_PERMISSION_CLASSES": []},
        {"DEFAULT_PERMISSION_CLASSES": [AllowAny]},
        {"DEFAULT_AUTHENTICATION_CLASSES": [BearerAuthentication]},
    ],
)
def test_drf_open_by_default_warns_however_spelt(rest: dict[str, Any]) -> None:
    """No default permission class, or the classes given as objects, is W002 like AllowAny."""
    settings = {"DEFAULT_AUTHENTICATION_CLASSES": ["okta_bearer.django.drf.BearerAuthentication"]}
    with override_settings(MIDDLEWARE=[], REST_FRAMEWORK={**settings, **rest}):
        assert "okta_bearer.W002" in {m.id for m in run_checks()}


def test_drf_view_raising_a_bearer_error_gets_its_answer(
    setup: str, attack_urls: None, okta_django: LocalIssuer
) -> None:
    """A BearerError raised in a DRF view is its RFC 6750 answer with or without the middleware."""
    response = Client().get("/drf/raises", headers=bearer(okta_django.mint()))
    assert response.status_code == 403
    challenge = response["WWW-Authenticate"]
    assert 'error="insufficient_scope"' in challenge
    assert challenge.endswith('scope="admin"')
    assert response["Cache-Control"] == "no-store"
    assert response.json()["error"] == "insufficient_scope"


def test_root_as_a_public_path_opens_only_the_root(okta_django: LocalIssuer) -> None:
    """public_paths ["/"] makes the root page public, not every path under it."""
    with override_settings(OKTA_BEARER={**base_options(okta_django), "public_paths": ["/"]}):
        client = Client()
        assert client.get("/").status_code == 404  # public: routed, and no view there
        assert client.get("/items").status_code == 401
        assert client.get("/drf/items").status_code == 401
    assert REACHED == []


def test_security_middleware_after_ours_warns() -> None:
    """SecurityMiddleware after ours is W003: refusals would skip its redirect and headers."""
    ours, security = "okta_bearer.django.BearerAuthMiddleware", SECURITY_MIDDLEWARE
    with override_settings(MIDDLEWARE=[ours, security]):
        assert "okta_bearer.W003" in {m.id for m in run_checks()}
    with override_settings(MIDDLEWARE=[security, ours]):
        assert "okta_bearer.W003" not in {m.id for m in run_checks()}


@override_settings(SECURE_HSTS_SECONDS=3600, SECURE_SSL_REDIRECT=True)
def test_refusals_behind_security_middleware_keep_its_protections() -> None:
    """In the documented order a refusal over HTTPS carries HSTS, and plain HTTP is redirected."""
    middleware = [SECURITY_MIDDLEWARE, "okta_bearer.django.BearerAuthMiddleware"]
    with override_settings(MIDDLEWARE=middleware):
        assert Client().get("/items").status_code == 301
        refused = Client().get("/items", secure=True)
        assert refused.status_code == 401
        assert refused["Strict-Transport-Security"] == "max-age=3600"
        assert refused["X-Content-Type-Options"] == "nosniff"


def test_drf_session_without_token_is_told_a_token_is_needed(
    attack_urls: None, okta_django: LocalIssuer
) -> None:
    """A caller signed in by another DRF class hits HasScopes: 403 saying a token is needed."""
    with NO_MIDDLEWARE:
        response = Client().get("/drf/session-first")
    assert response.status_code == 403
    assert response.json() == {"detail": "This view needs an access token"}


def test_viewset_action_declares_its_own_scopes(
    setup: str, attack_urls: None, okta_django: LocalIssuer
) -> None:
    """An @action's required_scopes_by_method is checked for it, the ViewSet's for the rest."""
    client = Client()
    reader = bearer(okta_django.mint(scp=["items:read"]))
    assert client.get("/reports/", headers=reader).status_code == 200
    refused = client.get("/reports/audit/", headers=reader)
    assert refused.status_code == 403
    assert refused["WWW-Authenticate"].endswith('scope="admin"')
    admin = bearer(okta_django.mint(scp=["admin"]))
    assert client.get("/reports/audit/", headers=admin).json() == {"view": "reports.audit"}
