"""`okta-bearer demo` as an operator sees it: refusals in its output, rotation without refusals."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from okta_bearer._cli import main

from .browser.demo import Demo, run_demo


@pytest.fixture(scope="module")
def demo() -> Iterator[Demo]:
    """The demo on free loopback ports for this module."""
    with run_demo() as running:
        yield running


def wait_for_line(demo: Demo, text: str) -> str:
    """The first output line containing ``text``, waiting up to 30 s for it."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        for line in list(demo.output):
            if text in line:
                return line
        time.sleep(0.05)
    raise AssertionError(f"{text!r} not in the demo's output:\n" + "\n".join(demo.output))


def test_refusals_are_printed(demo: Demo) -> None:
    """A refused API call shows up in the demo's output with its reason, never the token."""
    token = httpx.post(demo.issuer + "/dev/mint", json={}, timeout=30).json()["access_token"]
    forged = token[:-6] + ("AAAAAA" if not token.endswith("AAAAAA") else "BBBBBB")
    response = httpx.get(
        demo.api + "/api/whoami", headers={"authorization": f"Bearer {forged}"}, timeout=30
    )
    assert response.status_code == 401
    line = wait_for_line(demo, "bad_signature")
    assert "/api/whoami" in line
    assert "401" in line
    assert forged not in "\n".join(demo.output)


def test_rotate_then_the_next_request_verifies(
    demo: Demo, capsys: pytest.CaptureFixture[str]
) -> None:
    """After `okta-bearer rotate`, a token signed by the new key is accepted on its first use."""
    with httpx.Client(timeout=30) as http:
        first = http.post(demo.issuer + "/dev/mint", json={}).json()["access_token"]
        auth = {"authorization": f"Bearer {first}"}
        assert http.get(demo.api + "/api/whoami", headers=auth).status_code == 200
        assert main(["rotate", "--issuer", demo.issuer]) == 0
        assert "now signing with kid" in capsys.readouterr().out
        fresh = http.post(demo.issuer + "/dev/mint", json={}).json()["access_token"]
        answer = http.get(demo.api + "/api/whoami", headers={"authorization": f"Bearer {fresh}"})
        assert answer.status_code == 200, answer.text


def test_the_api_checked_its_issuer_at_start_up(demo: Demo) -> None:
    """The demo's API warms its keys from the dev issuer at start-up without an ERROR line."""
    wait_for_line(demo, "Press Ctrl-C")
    assert not [line for line in demo.output if "start-up check failed" in line]
    assert not [line for line in demo.output if "key refresh" in line and "failed" in line]
