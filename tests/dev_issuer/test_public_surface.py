"""okta_bearer.dev_issuer's public surface: __all__ is sorted, complete and documented."""

from __future__ import annotations

import inspect

import okta_bearer.dev_issuer


def test_all_is_sorted_and_exported() -> None:
    """Every name in __all__ exists in the package, and __all__ is sorted."""
    names = okta_bearer.dev_issuer.__all__
    assert names == sorted(names)
    for name in names:
        assert hasattr(okta_bearer.dev_issuer, name), name


def test_classes_users_need_are_exported() -> None:
    """DevIssuer, DevClient and DevUser are importable from okta_bearer.dev_issuer."""
    assert {"DevClient", "DevIssuer", "DevUser"} <= set(okta_bearer.dev_issuer.__all__)


def _public_methods(cls: type) -> dict[str, object]:
    """The class's own and inherited public methods and properties written in okta_bearer."""
    found: dict[str, object] = {}
    for attr, value in inspect.getmembers(cls):
        func = value.fget if isinstance(value, property) else value
        if attr.startswith("_") or not inspect.isfunction(func):
            continue
        if func.__module__.startswith("okta_bearer."):
            found[attr] = value
    return found


def test_public_names_have_docstrings() -> None:
    """Every exported class and function, and each of their public methods, says what it does."""
    for name in okta_bearer.dev_issuer.__all__:
        member = getattr(okta_bearer.dev_issuer, name)
        if not (inspect.isclass(member) or inspect.isfunction(member)):
            continue
        assert inspect.getdoc(member), f"okta_bearer.dev_issuer.{name} has no docstring"
        if inspect.isclass(member):
            for attr, value in _public_methods(member).items():
                assert inspect.getdoc(value), f"{name}.{attr} has no docstring"


def test_dev_issuer_methods_are_checked() -> None:
    """The docstring check sees DevIssuer's inherited public methods, not only its own."""
    methods = _public_methods(okta_bearer.dev_issuer.DevIssuer)
    assert {"issue_access_token", "issuer", "rotate"} <= set(methods)


def test_private_modules_stay_private() -> None:
    """Nothing in __all__ names a module, so the private modules stay behind the package."""
    for name in okta_bearer.dev_issuer.__all__:
        assert not inspect.ismodule(getattr(okta_bearer.dev_issuer, name)), name
