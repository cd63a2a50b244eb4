"""What an install promises: a small import graph, helpful errors, a wheel that runs the demo."""

from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
import textwrap
import venv
import zipfile
from pathlib import Path

import httpx
import pytest

from .browser.demo import run_demo

ROOT = Path(__file__).resolve().parents[1]
PIP = (sys.executable, "-m", "pip")


def run(code: str) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter."""
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


def build_wheel(out: Path) -> Path:
    """Build the project's wheel into ``out`` with pip (setuptools from the registry).

    From a copy of what the wheel is made of, so setuptools' build/ folder
    never lands in the checkout (a stale one could leak old files into a wheel).
    """
    source = out.parent / "source"
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info")
    for name in ("okta_bearer", "examples"):
        shutil.copytree(ROOT / name, source / name, ignore=ignore)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    result = subprocess.run(  # noqa: S603 - our own interpreter and project
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(source)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    (wheel,) = out.glob("okta_bearer-*.whl")
    return wheel


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The wheel, and a fresh venv with it installed (dependencies reused from this venv)."""
    base = tmp_path_factory.mktemp("wheel")
    wheel = build_wheel(base / "dist")
    env_dir = base / "venv"
    venv.create(env_dir, with_pip=False)
    python = env_dir / "bin" / "python"
    purelib = subprocess.run(  # noqa: S603 - the venv's own interpreter
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    # The fresh venv sees this venv's third-party packages (FastAPI, uvicorn...) after
    # its own site-packages; okta_bearer itself is only the wheel's copy.
    ours = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    Path(purelib, "_reuse_test_dependencies.pth").write_text("\n".join(sorted(ours)) + "\n")
    result = subprocess.run(  # noqa: S603 - our own pip installing our own wheel
        [*PIP, "--python", str(python), "install", "-q", "--no-deps", "--no-index", str(wheel)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return wheel, env_dir


def test_wheel_holds_every_module_and_the_demo_assets(installed: tuple[Path, Path]) -> None:
    """The wheel ships every module of okta_bearer/ plus the examples and the SPA's files."""
    wheel, _ = installed
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = {
        p.relative_to(ROOT).as_posix()
        for p in (ROOT / "okta_bearer").rglob("*")
        if p.suffix in (".py", ".typed") and "__pycache__" not in p.parts
    }
    expected |= {
        "okta_bearer/_examples/" + p.relative_to(ROOT / "examples").as_posix()
        for p in (ROOT / "examples").rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }
    assert expected - names == set()


def test_demo_runs_from_the_installed_wheel(installed: tuple[Path, Path], tmp_path: Path) -> None:
    """`okta-bearer demo` from the wheel, outside any checkout, serves SPA, /docs and discovery."""
    _, env_dir = installed
    where = subprocess.run(  # noqa: S603 - the venv's own interpreter
        [str(env_dir / "bin" / "python"), "-c", "import okta_bearer; print(okta_bearer.__file__)"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=True,
    ).stdout
    assert where.startswith(str(env_dir))
    with run_demo(command=[str(env_dir / "bin" / "okta-bearer")], cwd=tmp_path) as demo:
        with httpx.Client(timeout=30, trust_env=False) as http:
            spa = http.get(demo.spa)
            assert spa.status_code == 200
            assert "okta_bearer demo" in spa.text
            assert http.get(demo.spa + "app.js").status_code == 200
            docs = http.get(demo.docs)
            assert docs.status_code == 200
            assert "swagger-ui" in docs.text
            meta = http.get(demo.issuer + "/.well-known/openid-configuration")
            assert meta.json()["issuer"] == demo.issuer
        assert demo.stop() == 0
    assert not any("Traceback" in line for line in demo.output), demo.output
