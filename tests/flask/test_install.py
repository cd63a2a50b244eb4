"""Flask is an optional extra: a plain import never loads it, and its absence is explained."""

from __future__ import annotations

from ..test_install import run


def test_the_core_and_the_testing_kit_do_not_import_flask() -> None:
    """Importing okta_bearer (and its testing kit) loads neither Flask nor Werkzeug."""
    result = run(
        """
        import sys
        import okta_bearer, okta_bearer.testing, okta_bearer._http.gate
        print(sorted(m for m in ("flask", "werkzeug", "django") if m in sys.modules))
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_the_flask_integration_names_the_extra_when_missing() -> None:
    """Without Flask installed, okta_bearer.flask says which extra to install."""
    result = run(
        """
        import sys
        sys.modules["flask"] = None  # as if Flask were not installed
        try:
            import okta_bearer.flask
        except ImportError as exc:
            print(exc)
        """
    )
    assert result.returncode == 0, result.stderr
    assert "pip install 'okta-bearer[flask]'" in result.stdout
