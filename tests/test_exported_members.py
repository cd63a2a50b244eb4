"""The public surface: __all__ is sorted, complete and documented."""

from __future__ import annotations

import inspect

import okta_bearer
import okta_bearer.fastapi
import okta_bearer.middleware
import okta_bearer.testing


def test_all_is_sorted_and_exported() -> None:
    """Every name in __all__ exists, and __all__ is sorted."""
    names = okta_bearer.__all__
    assert names == sorted(names)
    for name in names:
        assert hasattr(okta_bearer, name)


def test_public_names_have_docstrings() -> None:
    """Public classes and functions say what they do."""
    for module in (okta_bearer, okta_bearer.fastapi, okta_bearer.middleware, okta_bearer.testing):
        for name in module.__all__:
            member = getattr(module, name)
            if inspect.isclass(member) or inspect.isfunction(member):
                assert inspect.getdoc(member), f"{module.__name__}.{name} has no docstring"


def test_pytest_plugin_fixture(okta_issuer: okta_bearer.testing.LocalIssuer) -> None:
    """The okta_issuer fixture comes from the installed pytest plugin."""
    assert isinstance(okta_issuer, okta_bearer.testing.LocalIssuer)
    assert okta_issuer.jwks()["keys"][0]["kid"] == okta_issuer.kid


def test_moved_errors_stay_importable_where_they_were() -> None:
    """The errors moved into _errors are the same classes under their old module paths."""
    from okta_bearer import _errors
    from okta_bearer._http import stepup as _stepup
    from okta_bearer._opaque import introspection as _introspection

    assert _introspection.IntrospectionUnavailable is _errors.IntrospectionUnavailable
    assert okta_bearer.IntrospectionUnavailable is _errors.IntrospectionUnavailable
    assert _stepup.InsufficientUserAuthentication is _errors.InsufficientUserAuthentication
    assert okta_bearer.InsufficientUserAuthentication is _errors.InsufficientUserAuthentication
    for name in ("IntrospectionUnavailable", "InsufficientUserAuthentication"):
        assert name in _errors.__all__
        assert name in (_errors.__doc__ or "")
