"""`okta-bearer check`: discovery, keys and every check on a token, one line each."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from okta_bearer._cli import main
from okta_bearer.dev_issuer import DevIssuer
from okta_bearer.testing import LocalIssuer

from .servers import free_port, running_dev_issuer

CHECKS = ["alg", "kid", "signature", "iss", "aud", "exp", "nbf", "iat", "cid", "scopes"]


@pytest.fixture(scope="module")
def running() -> Iterator[DevIssuer]:
    """A dev issuer served by uvicorn on a free loopback port."""
    with running_dev_issuer() as dev:
        yield dev


def check(dev: DevIssuer, *extra: str, issuer: str | None = None) -> list[str]:
    """argv for `check` against ``dev``."""
    return ["check", "--issuer", issuer or dev.issuer, "--audience", "api://default", *extra]


def rows(out: str) -> dict[str, tuple[str, str]]:
    """The report as {check: (status, detail)}; discovery keeps its last line."""
    found: dict[str, tuple[str, str]] = {}
    for line in out.splitlines():
        if line.startswith("verdict: ") or line.startswith("  "):
            continue
        status, name, detail = line[:4].strip(), line[6:16].strip(), line[17:]
        found[name] = (status, detail)
    return found


def test_issuer_alone_reports_discovery_and_keys(
    running: DevIssuer, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without a token, check reports the metadata and the keys, and exits 0."""
    assert main(check(running)) == 0
    report = rows(capsys.readouterr().out)
    assert report["discovery"][0] == "ok"
    assert "issuer matches" in report["discovery"][1]
    assert report["keys"][0] == "ok"
    assert running.local.kid in report["keys"][1]


def test_trailing_slash_is_named(running: DevIssuer, capsys: pytest.CaptureFixture[str]) -> None:
    """An issuer differing by a trailing slash fails discovery with expected, got and a hint."""
    assert main(check(running, issuer=running.issuer + "/")) == 1
    status, detail = rows(capsys.readouterr().out)["discovery"]
    assert status == "FAIL"
    assert f"expected issuer '{running.issuer}/', got '{running.issuer}'" in detail
    assert "trailing slash" in detail


def test_good_token_passes_every_check(
    running: DevIssuer, capsys: pytest.CaptureFixture[str]
) -> None:
    """A valid token gets one line per check, none failing, and the verifier's 'accepted'."""
    token = running.local.mint(scp=["items:read"])
    argv = check(running, "--token", token, "--scope", "items:read")
    assert main(argv) == 0
    out = capsys.readouterr().out
    report = rows(out)
    assert set(CHECKS) <= set(report)
    assert all(report[name][0] in ("ok", "--") for name in CHECKS)
    assert out.rstrip().endswith("verdict: accepted")
    assert token not in out


@pytest.mark.parametrize(
    ("claims", "extra", "name", "detail", "verdict"),
    [
        (
            {"iss": "https://dev-1.okta.com"},
            [],
            "iss",
            "got 'https://dev-1.okta.com' (the token is from the org authorization server",
            "(bad_issuer)",
        ),
        (
            {"aud": "api://other"},
            [],
            "aud",
            "expected 'api://default', got 'api://other'",
            "(bad_audience)",
        ),
        ({"exp": 1_000_000}, [], "exp", "expired at 1970-01-12T13:46:40Z", "(expired)"),
        ({"nbf": int(time.time()) + 1800}, [], "nbf", "not valid before 20", "(not_yet_valid)"),
        (
            {"cid": "0oaother"},
            ["--client-id", "0oaokta"],
            "cid",
            "expected '0oaokta', got '0oaother'",
            "(bad_client)",
        ),
        (
            {"scp": ["openid"]},
            ["--scope", "items:write"],
            "scopes",
            "missing items:write; token holds: openid",
            "(missing_scope)",
        ),
    ],
)
def test_each_failing_check_says_expected_and_got(
    running: DevIssuer,
    capsys: pytest.CaptureFixture[str],
    claims: dict[str, Any],
    extra: list[str],
    name: str,
    detail: str,
    verdict: str,
) -> None:
    """A token failing one check gets FAIL on that line with expected vs got; exit status 1."""
    token = running.local.mint(**claims)
    assert main(check(running, "--token", token, *extra)) == 1
    out = capsys.readouterr().out
    report = rows(out)
    assert report[name][0] == "FAIL"
    assert detail in report[name][1]
    failed = [n for n, (status, _) in report.items() if status == "FAIL"]
    assert failed == [name]
    (verdict_line,) = [line for line in out.splitlines() if line.startswith("verdict: ")]
    assert verdict in verdict_line


def test_tampered_token_fails_the_signature(
    running: DevIssuer, capsys: pytest.CaptureFixture[str]
) -> None:
    """A payload swapped under another token's signature fails the signature line only."""
    head, _, sig = running.local.mint(scp=["items:read"]).split(".")
    _, body, _ = running.local.mint(scp=["items:write"]).split(".")
    assert main(check(running, "--token", f"{head}.{body}.{sig}")) == 1
    report = rows(capsys.readouterr().out)
    assert report["signature"] == ("FAIL", "invalid")
    assert report["iss"][0] == "ok"


def test_unknown_kid_names_the_published_ones(
    running: DevIssuer, capsys: pytest.CaptureFixture[str]
) -> None:
    """A token signed by a key the issuer does not publish fails 'kid' listing what is there."""
    stranger = LocalIssuer(running.issuer)
    assert main(check(running, "--token", stranger.mint())) == 1
    report = rows(capsys.readouterr().out)
    assert report["kid"][0] == "FAIL"
    assert f"got '{stranger.kid}'" in report["kid"][1]
    assert running.local.kid in report["kid"][1]


def test_malformed_token(running: DevIssuer, capsys: pytest.CaptureFixture[str]) -> None:
    """A token that is not a compact JWS fails 'format' and the verifier refuses it."""
    assert main(check(running, "--token", "not-a-jwt")) == 1
    out = capsys.readouterr().out
    assert rows(out)["format"][0] == "FAIL"
    assert "verdict: rejected: invalid_token" in out


def test_unreachable_issuer_exits_3(capsys: pytest.CaptureFixture[str]) -> None:
    """When nothing answers at the issuer, check exits 3."""
    port = free_port()  # nothing listens there
    argv = ["check", "--issuer", f"http://127.0.0.1:{port}/oauth2/default", "--audience", "a"]
    assert main([*argv, "--timeout", "5"]) == 3
    assert "cannot reach the issuer" in capsys.readouterr().out


def test_bad_configuration_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    """A configuration the verifier refuses is a usage error, before any request."""
    assert main(["check", "--issuer", "http://issuer.example", "--audience", "a"]) == 2
    assert "issuer" in capsys.readouterr().err
