"""examples/flask_app.py: its routes in-process, and its one command against the dev issuer."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx

from okta_bearer import TokenVerifier
from okta_bearer._cli import load_example
from okta_bearer.testing import LocalIssuer

from ..servers import ROOT, free_port, stop_process, wait_until_healthy


def test_the_example_routes(okta_issuer: LocalIssuer, okta_verifier: TokenVerifier) -> None:
    """Scopes, step-up and the public route answer as the example's docstring says."""
    module = load_example("flask_app")
    client = module.create_app(verifier=okta_verifier).test_client()
    assert client.get("/items").status_code == 401
    assert client.get("/health").status_code == 200
    listed = client.get("/items", headers=okta_issuer.headers())
    assert listed.json == {"items": ["first item"], "caller": "alice@example.com"}
    refused = client.post("/items", headers=okta_issuer.headers())
    assert refused.status_code == 403
    assert 'scope="items:write"' in refused.headers["WWW-Authenticate"]
    writer = okta_issuer.headers(scp=["items:read", "items:write"])
    assert client.post("/items", headers=writer).status_code == 201
    step_up = client.delete("/items/item 2", headers=writer)
    assert step_up.status_code == 401
    assert f'acr_values="{module.TWO_FACTOR}"' in step_up.headers["WWW-Authenticate"]
    strong = okta_issuer.headers(scp=["items:read", "items:write"], acr=module.TWO_FACTOR)
    assert client.delete("/items/item 2", headers=strong).json == {"items": ["first item"]}


def test_one_command_runs_it_against_the_dev_issuer(tmp_path: Path) -> None:
    """``python examples/flask_app.py`` serves the API and a dev issuer whose tokens it takes."""
    issuer_port, port = free_port(), free_port()
    log = tmp_path / "example.log"
    command = [
        sys.executable, "examples/flask_app.py", "--issuer-port", str(issuer_port),
        "--port", str(port),
    ]  # fmt: skip
    with log.open("ab") as out:
        process = subprocess.Popen(command, cwd=ROOT, stdout=out, stderr=out)  # noqa: S603
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(process, base, "flask_app.py", log.read_text, process.kill)
        issuer = f"http://127.0.0.1:{issuer_port}/oauth2/default"
        mint = subprocess.run(  # noqa: S603 - our own CLI
            [sys.executable, "-m", "okta_bearer", "mint", "--issuer", issuer],
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        )
        token = mint.stdout.strip()
        headers = {"Authorization": f"Bearer {token}"}
        answer = httpx.get(f"{base}/items", headers=headers, trust_env=False, timeout=30)
        assert answer.status_code == 200, log.read_text()
        assert answer.json()["items"] == ["first item"]
        assert httpx.get(f"{base}/items", trust_env=False, timeout=30).status_code == 401
    finally:
        stop_process(process, grace=10)
