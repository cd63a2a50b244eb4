"""What a clean install promises: a small import graph and helpful errors for optional parts."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our own interpreter and code
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_core_import_needs_only_runtime_dependencies() -> None:
    """Importing okta_bearer loads neither FastAPI, uvicorn nor pytest."""
    result = run(
        """
        import sys
        import okta_bearer, okta_bearer.testing
        print(sorted(m for m in ("fastapi", "uvicorn", "pytest") if m in sys.modules))
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_fastapi_integration_names_the_extra_when_missing() -> None:
    """Without FastAPI installed, okta_bearer.fastapi says which extra to install."""
    result = run(
        """
        import sys
        sys.modules["fastapi"] = None  # as if FastAPI were not installed
        try:
            import okta_bearer.fastapi
        except ImportError as exc:
            print(exc)
        """
    )
    assert result.returncode == 0, result.stderr
    assert "pip install 'okta-bearer[fastapi]'" in result.stdout
