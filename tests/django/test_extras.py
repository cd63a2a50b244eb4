"""Django is optional: a plain import never loads it, and a missing extra is named."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def run(code: str) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter (nothing imported by this test process)."""
    return subprocess.run(  # noqa: S603 - our own interpreter and code
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_plain_import_loads_no_django() -> None:
    """okta_bearer, its testing kit and its pytest plugin import neither Django nor DRF."""
    result = run(
        """
        import sys
        import okta_bearer, okta_bearer.testing, okta_bearer.pytest_plugin
        print(sorted(m for m in ("django", "rest_framework") if m in sys.modules))
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_production_import_loads_no_test_helpers() -> None:
    """okta_bearer.django (what settings load) imports neither django.test nor the testing kit."""
    result = run(
        """
        import sys
        import okta_bearer.django, okta_bearer.django.drf
        prefixes = ("django.test", "okta_bearer.testing")
        print(sorted(m for m in sys.modules if m.startswith(prefixes)))
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_missing_extras_are_named() -> None:
    """Without Django (or DRF) installed, the import error says which extra to install."""
    result = run(
        """
        import sys
        sys.modules["django"] = None  # as if Django were not installed
        try:
            import okta_bearer.django
        except ImportError as exc:
            print(exc)
        """
    )
    assert "pip install 'okta-bearer[django]'" in result.stdout, result.stderr
    result = run(
        """
        import sys
        sys.modules["rest_framework"] = None
        try:
            import okta_bearer.django.drf
        except ImportError as exc:
            print(exc)
        """
    )
    assert "pip install 'okta-bearer[drf]'" in result.stdout, result.stderr
