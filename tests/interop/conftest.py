"""Start panva's oidc-provider (Node.js) on loopback for the interoperability tests.

The provider is installed by ``.ci/install-interop.sh`` (``npm ci`` in
``tests/interop/provider``), which the session fixture below runs when it is
missing; only ``provider/server.mjs``, its configuration, is ours.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from ..bootstrap import CI_DIR, ensure

PROVIDER_DIR = Path(__file__).parent / "provider"
CLIENT_ID = "interop-client"
CLIENT_SECRET = "interop-secret-not-for-production"
START_TIMEOUT = 60.0  # generous: the CI machine is shared and slow to start node


@dataclass(frozen=True)
class OidcProvider:
    """A running oidc-provider: its issuer URL and how to get tokens from it."""

    issuer: str
    #: The resource server's private JWK for private_key_jwt (see provider/server.mjs).
    rs_private_jwk: dict[str, str] = field(default_factory=dict, repr=False)

    @property
    def token_endpoint(self) -> str:
        """Where client_credentials tokens are issued."""
        return f"{self.issuer}/token"

    async def token(self, resource: str, scope: str) -> str:
        """Get a client_credentials JWT access token for ``resource`` with ``scope``."""
        async with httpx.AsyncClient(trust_env=False, timeout=30) as client:
            response = await client.post(
                self.token_endpoint,
                data={
                    "grant_type": "client_credentials",
                    "client_id": CLIENT_ID,
                    "client_secret": CLIENT_SECRET,
                    "resource": resource,
                    "scope": scope,
                },
            )
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["token_type"] == "Bearer"
        token = body["access_token"]
        assert isinstance(token, str)
        return token


def _exited(process: subprocess.Popen[bytes], errors: Path) -> str:
    return f"oidc-provider exited with {process.returncode}:\n{errors.read_text()}"


def _first_line(path: Path, process: subprocess.Popen[bytes], errors: Path) -> str:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        text = path.read_text()
        if "\n" in text:
            return text.split("\n", 1)[0]
        if process.poll() is not None:
            pytest.fail(_exited(process, errors))
        time.sleep(0.05)
    pytest.fail(f"oidc-provider did not start within {START_TIMEOUT} s:\n{errors.read_text()}")


def _wait_for_discovery(issuer: str, process: subprocess.Popen[bytes], errors: Path) -> None:
    url = f"{issuer}/.well-known/openid-configuration"
    deadline = time.monotonic() + START_TIMEOUT
    with httpx.Client(trust_env=False, timeout=5) as client:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                pytest.fail(_exited(process, errors))
            try:
                if client.get(url).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
    pytest.fail(f"oidc-provider discovery did not answer within {START_TIMEOUT} s")


def _provider_installed() -> bool:
    """Node.js is there and node_modules holds every package of the lock file, at its version."""
    if shutil.which("node") is None:
        return False
    try:
        want = json.loads((PROVIDER_DIR / "package-lock.json").read_text())["packages"]
        have = json.loads((PROVIDER_DIR / "node_modules" / ".package-lock.json").read_text())
    except (OSError, ValueError, KeyError):
        return False
    installed = have.get("packages", {})
    return all(
        path in installed and installed[path].get("version") == meta.get("version")
        for path, meta in want.items()
        if path  # "" is the project itself
    )


@pytest.fixture(scope="session", autouse=True)
def oidc_provider_installed() -> None:
    """Node.js and the lock file's npm packages, installed by .ci/install-interop.sh if missing.

    Autouse: every interop test, whichever npm package it runs, finds them installed.
    """
    ensure(
        "Node.js with the interop npm packages", _provider_installed, CI_DIR / "install-interop.sh"
    )


@pytest.fixture(scope="module")
def oidc_provider(
    oidc_provider_installed: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[OidcProvider]:
    """oidc-provider serving on 127.0.0.1 on a port the OS picked; stopped after the module."""
    node = shutil.which("node")
    assert node is not None
    logs = tmp_path_factory.mktemp("oidc-provider")
    out, err = logs / "stdout.log", logs / "stderr.log"
    with out.open("wb") as stdout, err.open("wb") as stderr:
        # The command is fixed: node (from PATH) and our own server.mjs.
        process = subprocess.Popen(  # noqa: S603
            [node, "server.mjs"], cwd=PROVIDER_DIR, stdout=stdout, stderr=stderr
        )
    try:
        announced = json.loads(_first_line(out, process, err))
        issuer = announced["issuer"]
        assert issuer.startswith("http://127.0.0.1:")
        _wait_for_discovery(issuer, process, err)
        yield OidcProvider(issuer, announced.get("rs_private_jwk", {}))
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=30)
