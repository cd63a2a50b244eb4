"""docs/guides/dpop.md end to end: its shell blocks, run by bash against the demo, reach a 200;
its Python blocks run, in order, in one namespace.

The demo runs on free ports instead of 9400/9401 (other suites may hold those),
so the block that names the two servers is the one line replaced; every other
command runs exactly as the guide prints it, curl included.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from okta_bearer.testing import DPoPKey

from .bootstrap import CI_DIR, ensure
from .browser.demo import run_demo

GUIDE = Path(__file__).resolve().parents[1] / "docs" / "guides" / "dpop.md"
_SH = re.compile(r"^```sh\n(.*?)^```", re.MULTILINE | re.DOTALL)
_PY = re.compile(r"^```python\n(.*?)^```", re.MULTILINE | re.DOTALL)


def shell_blocks() -> list[str]:
    """The guide's ```sh blocks, in order."""
    return _SH.findall(GUIDE.read_text(encoding="utf-8"))


def test_guide_python_blocks_run() -> None:
    """The Python blocks run as printed: a client_credentials token with a proof is DPoP-bound."""
    blocks = _PY.findall(GUIDE.read_text(encoding="utf-8"))
    assert any("client_credentials" in block for block in blocks)
    namespace: dict[str, object] = {"__name__": "dpop_guide"}
    for block in blocks:
        exec(compile(block, str(GUIDE), "exec"), namespace)  # noqa: S102 - our own guide
    seen, key = namespace["seen"], namespace["service_key"]
    assert isinstance(seen, dict)
    assert isinstance(key, DPoPKey)
    assert (seen["active"], seen["token_type"], seen["cnf"]) == (True, "DPoP", {"jkt": key.jkt})


def test_guide_commands_reach_the_api_with_dpop(tmp_path: Path) -> None:
    """keygen, mint --dpop-key, proof and curl as printed: 200; a replay and Bearer get 401."""
    # The guide's calls use curl: installed on first use (never a skip).
    ensure("curl", lambda: shutil.which("curl") is not None, CI_DIR / "install-curl.sh")
    blocks = shell_blocks()
    assert blocks[0] == "okta-bearer demo\n"
    assert blocks[1] == ("ISSUER=http://127.0.0.1:9400/oauth2/default\nAPI=http://127.0.0.1:9401\n")
    with run_demo() as demo:
        script = ["set -euo pipefail", f"ISSUER={demo.issuer}", f"API={demo.api}"]
        for number, block in enumerate(blocks[2:], start=2):
            # curl prints no newline after a body: start each marker on a line of its own.
            script += [f"printf '\\n=== block {number}\\n'", block]
        env = {
            **os.environ,
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        }
        done = subprocess.run(  # noqa: S603 - bash running our own guide's commands
            ["bash", "-c", "\n".join(script)],  # noqa: S607
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    assert done.returncode == 0, done.stdout + done.stderr
    outputs = dict(re.findall(r"\n=== block (\d+)\n(.*?)(?=\n=== block |\Z)", done.stdout, re.S))
    jkt = outputs["2"].strip()
    decoded = json.loads(outputs["3"])
    assert decoded["claims"]["cnf"] == {"jkt": jkt}
    call = outputs["4"]
    assert call.startswith("HTTP/1.1 200 OK")
    assert '"sub":"alice@example.com"' in call.replace(" ", "")
    replay, bearer = re.split(r"(?=HTTP/1.1 )", outputs["5"])[1:]
    assert replay.startswith("HTTP/1.1 401")
    assert 'error="invalid_dpop_proof"' in replay
    assert bearer.startswith("HTTP/1.1 401")
    assert 'error="invalid_token"' in bearer
    assert (tmp_path / "key.json").exists()
