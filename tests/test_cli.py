"""The okta-bearer CLI, driven in-process through main(argv)."""

from __future__ import annotations

import io
import json
import os
import queue
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from okta_bearer._cli import build_parser, main
from okta_bearer.dev_issuer import DevIssuer
from okta_bearer.testing import LocalIssuer

from .browser.demo import run_demo
from .dev_issuer.helpers import jwt_part
from .servers import free_port, loopback_socket, running_dev_issuer


@pytest.fixture(scope="module")
def running() -> Iterator[DevIssuer]:
    """A dev issuer served by uvicorn on a free loopback port."""
    with running_dev_issuer() as dev:
        yield dev


def verify_args(dev: DevIssuer, token: str, *extra: str) -> list[str]:
    """argv for `verify` against ``dev``."""
    return ["verify", token, "--issuer", dev.issuer, "--audience", "api://default", *extra]


@pytest.mark.parametrize(
    "command",
    [
        [],
        ["verify"],
        ["check"],
        ["decode"],
        ["mint"],
        ["keygen"],
        ["proof"],
        ["rotate"],
        ["dev-issuer"],
        ["demo"],
    ],
)
def test_help_for_each_command(command: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    """--help works for the program and every subcommand, exits 0 and shows runnable examples."""
    assert main([*command, "--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: okta-bearer")
    examples = out.split("examples:\n", 1)[1].splitlines()
    assert examples
    assert all(line.startswith("  ") and "okta-bearer" in line for line in examples if line)


def test_help_has_no_placeholder_examples(capsys: pytest.CaptureFixture[str]) -> None:
    """Option help gives real values (an Okta issuer URL), never 'e.g. URL'."""
    main(["verify", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "e.g. URL" not in out
    assert "e.g. https://dev-123456.okta.com/oauth2/default" in out
    assert "e.g. api://default" in out


def test_help_documents_the_demo_user(capsys: pytest.CaptureFixture[str]) -> None:
    """The dev-issuer and demo help name the default user and password."""
    for command in ("dev-issuer", "demo"):
        main([command, "--help"])
        assert "alice@example.com" in capsys.readouterr().out.replace("\n", " ")


def test_no_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    """Without a subcommand the exit status is 2."""
    assert main([]) == 2
    assert "required" in capsys.readouterr().err


def test_verify_prints_claims(running: DevIssuer, capsys: pytest.CaptureFixture[str]) -> None:
    """A valid token exits 0 and prints its claims as JSON."""
    token = running.local.mint(scp=["items:read"])
    assert main(verify_args(running, token, "--scope", "items:read")) == 0
    claims = json.loads(capsys.readouterr().out)
    assert claims["sub"] == "alice@example.com"
    assert claims["scp"] == ["items:read"]


def test_verify_reads_stdin(
    running: DevIssuer, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """TOKEN '-' reads the token (optionally prefixed 'Bearer ') from stdin."""
    token = running.local.mint()
    monkeypatch.setattr("sys.stdin", io.StringIO(f"Bearer {token}\n"))
    assert main(verify_args(running, "-")) == 0
    assert json.loads(capsys.readouterr().out)["iss"] == running.issuer


@pytest.mark.parametrize(
    ("claims", "extra", "expected"),
    [
        ({"exp": 1_000_000}, [], "rejected: invalid_token (expired): "),
        ({"aud": "api://other"}, [], "rejected: invalid_token (bad_audience): "),
        (
            {"iss": "https://evil.example/oauth2/default"},
            [],
            "rejected: invalid_token (bad_issuer)",
        ),
        ({}, ["--scope", "items:write"], "rejected: insufficient_scope (missing_scope): "),
    ],
)
def test_verify_failure_names_the_reason(
    running: DevIssuer,
    capsys: pytest.CaptureFixture[str],
    claims: dict[str, Any],
    extra: list[str],
    expected: str,
) -> None:
    """A rejected token exits 1 and prints the RFC 6750 error and the exact reason code."""
    token = running.local.mint(scp=["items:read"], **claims)
    assert main(verify_args(running, token, *extra)) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith(expected)
    assert token not in captured.err


@pytest.mark.parametrize(
    ("claims", "extra", "context"),
    [
        (
            {"scp": ["items:read"]},
            ["--scope", "items:read", "--scope", "items:write"],
            ["  required: items:read items:write", "  missing: items:write"],
        ),
        ({"aud": "api://other"}, [], ["  expected: api://default", "  got: api://other"]),
        (
            {"iss": "https://dev-1.okta.com"},
            [],
            ["  expected: {issuer}", "  got: https://dev-1.okta.com"],
        ),
        (
            {"cid": "0oaother"},
            ["--client-id", "0oaokta"],
            ["  expected: 0oaokta", "  got: 0oaother"],
        ),
    ],
)
def test_verify_prints_expected_and_got(
    running: DevIssuer,
    capsys: pytest.CaptureFixture[str],
    claims: dict[str, Any],
    extra: list[str],
    context: list[str],
) -> None:
    """A refusal is followed by its context (expected vs got, missing scopes), one per line."""
    token = running.local.mint(**claims)
    assert main(verify_args(running, token, *extra)) == 1
    lines = capsys.readouterr().err.splitlines()
    assert lines[1:] == [line.format(issuer=running.issuer) for line in context]


def test_verify_tampered_token(running: DevIssuer, capsys: pytest.CaptureFixture[str]) -> None:
    """A token whose payload was altered is rejected as bad_signature."""
    head, _, sig = running.local.mint(scp=["items:read"]).split(".")
    _, forged_body, _ = running.local.mint(scp=["items:write"]).split(".")
    assert main(verify_args(running, f"{head}.{forged_body}.{sig}")) == 1
    assert "(bad_signature)" in capsys.readouterr().err


def test_verify_unreachable_issuer_exits_3(capsys: pytest.CaptureFixture[str]) -> None:
    """When no keys can be fetched the exit status is 3 (keys_unavailable), not 'invalid'."""
    port = free_port()  # nothing listens there
    local = LocalIssuer(f"http://127.0.0.1:{port}/oauth2/default")
    argv = ["verify", local.mint(), "--issuer", local.issuer, "--audience", "api://default"]
    assert main([*argv, "--timeout", "5"]) == 3
    assert "temporarily_unavailable (keys_unavailable)" in capsys.readouterr().err


def test_verify_bad_configuration_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    """A configuration the verifier refuses is a usage error naming the option."""
    assert main(["verify", "a.b.c", "--issuer", "ftp://x", "--audience", "a"]) == 2
    assert "issuer" in capsys.readouterr().err


def test_decode_is_marked_unverified(capsys: pytest.CaptureFixture[str]) -> None:
    """decode prints header and claims under an UNVERIFIED marker, even for a bad signature."""
    local = LocalIssuer()
    token = local.mint(scp=["items:read"])[:-4] + "AAAA"
    assert main(["decode", token]) == 0
    captured = capsys.readouterr()
    document = json.loads(captured.out)
    assert "NOT checked" in document["UNVERIFIED"]
    assert document["header"] == {"alg": "RS256", "kid": local.kid}
    assert document["claims"]["scp"] == ["items:read"]
    assert "UNVERIFIED" in captured.err


@pytest.mark.parametrize("token", ["abc", "a.b", "!!!.e30.x", "e30.bm90IGpzb24.x"])
def test_decode_malformed(token: str, capsys: pytest.CaptureFixture[str]) -> None:
    """A token that is not a compact JWS of JSON exits 1 with a message."""
    assert main(["decode", token]) == 1
    assert capsys.readouterr().err.startswith("okta-bearer: ")


def test_mint_prints_a_verifiable_token(
    running: DevIssuer, capsys: pytest.CaptureFixture[str]
) -> None:
    """mint asks the running dev issuer and prints just the token, ready for curl."""
    argv = ["mint", "--issuer", running.issuer, "--scope", "openid", "--scope", "items:write"]
    assert main(argv) == 0
    token = capsys.readouterr().out.strip()
    assert main(verify_args(running, token, "--scope", "items:write")) == 0
    assert jwt_part(token, 1)["scp"] == ["openid", "items:write"]


def test_mint_json_and_client_token(running: DevIssuer, capsys: pytest.CaptureFixture[str]) -> None:
    """--json prints the whole response; --client-token mints a token with no user."""
    assert main(["mint", "--issuer", running.issuer, "--json", "--client-token"]) == 0
    body = json.loads(capsys.readouterr().out)
    assert body["token_type"] == "Bearer"
    assert jwt_part(body["access_token"], 1)["sub"] == "0oaclitest"


def test_mint_refused_scope_exits_1(running: DevIssuer, capsys: pytest.CaptureFixture[str]) -> None:
    """A scope the issuer does not offer is reported with the issuer's description."""
    assert main(["mint", "--issuer", running.issuer, "--scope", "nope"]) == 1
    assert "scopes must be offered" in capsys.readouterr().err


def test_mint_unreachable_exits_3(capsys: pytest.CaptureFixture[str]) -> None:
    """mint against nothing exits 3 and says to start the dev issuer."""
    port = free_port()  # nothing listens there
    assert main(["mint", "--issuer", f"http://127.0.0.1:{port}/oauth2/default"]) == 3
    assert "okta-bearer dev-issuer" in capsys.readouterr().err


def test_rotate(running: DevIssuer, capsys: pytest.CaptureFixture[str]) -> None:
    """rotate makes the running issuer sign with a new, published key."""
    before = running.local.kid
    assert main(["rotate", "--issuer", running.issuer]) == 0
    assert running.local.kid != before
    assert running.local.kid in capsys.readouterr().out
    assert [k.kid for k in running.local.keys] == [before, running.local.kid]


def test_dev_issuer_port_taken(capsys: pytest.CaptureFixture[str]) -> None:
    """dev-issuer on a taken port exits 2 and names the port and the option."""
    taken = loopback_socket()
    taken.listen()
    port = taken.getsockname()[1]
    try:
        assert main(["dev-issuer", "--port", str(port)]) == 2
    finally:
        taken.close()
    err = capsys.readouterr().err
    assert f"127.0.0.1:{port}" in err
    assert "already in use" in err
    assert "--port" in err


def test_demo_port_taken_names_the_option(capsys: pytest.CaptureFixture[str]) -> None:
    """demo with its API port taken exits 2, naming that port and --api-port."""
    taken = loopback_socket()
    taken.listen()
    port = taken.getsockname()[1]
    try:
        argv = ["demo", "--issuer-port", "0", "--api-port", str(port), "--spa-port", "0"]
        assert main(argv) == 2
    finally:
        taken.close()
    err = capsys.readouterr().err
    assert f"127.0.0.1:{port}" in err
    assert "--api-port" in err


@pytest.mark.parametrize(
    "argv",
    [
        ["dev-issuer", "--port", "0", "--client", "no-equals-sign"],
        ["dev-issuer", "--port", "0", "--client", "id="],
        ["dev-issuer", "--port", "0", "--user", "alice"],
        ["dev-issuer", "--port", "0", "--issuer-path", "oauth2"],
        ["dev-issuer", "--port", "0", "--default-scope", "unknown"],
    ],
)
def test_dev_issuer_bad_options(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    """Malformed dev-issuer options exit 2 with a message, before serving anything."""
    assert main(argv) == 2
    assert capsys.readouterr().err.startswith("okta-bearer: ")


def test_parser_has_the_documented_commands() -> None:
    """The parser offers verify, check, decode, mint, rotate, dev-issuer and demo."""
    parser = build_parser()
    text = parser.format_help()
    for name in ("verify", "check", "decode", "mint", "rotate", "dev-issuer", "demo"):
        assert name in text


def test_demo_serves_all_three_and_stops_on_ctrl_c() -> None:
    """`okta-bearer demo` serves issuer, API and SPA on loopback, and SIGINT stops all with 0."""
    with run_demo() as demo:
        assert demo.spa.startswith("http://127.0.0.1:")
        assert (demo.user, demo.password) == ("alice@example.com", "wonderland")
        with httpx.Client(timeout=30) as http:
            page = http.get(demo.spa)
            assert page.status_code == 200
            assert "okta_bearer demo" in page.text
            config = http.get(demo.spa + "config.json").json()
            assert config["issuer"] == demo.issuer
            assert config["apiBase"] == demo.api
            meta = http.get(demo.issuer + "/.well-known/openid-configuration").json()
            assert meta["issuer"] == demo.issuer
            assert http.get(demo.api + "/api/public").status_code == 200
            assert http.get(demo.api + "/api/whoami").status_code == 401
            token = http.post(demo.issuer + "/dev/mint", json={}).json()["access_token"]
            whoami = http.get(
                demo.api + "/api/whoami", headers={"authorization": f"Bearer {token}"}
            )
            assert whoami.status_code == 200
            # The localhost spelling of the SPA's origin works as well as 127.0.0.1.
            spa_localhost = demo.spa.replace("127.0.0.1", "localhost")
            authorize = http.get(
                demo.issuer + "/v1/authorize",
                params={
                    "client_id": "0oademospa0client0id",
                    "redirect_uri": spa_localhost,
                    "response_type": "token",
                    "scope": "openid",
                },
            )
            assert authorize.status_code == 200
            preflight = http.options(
                demo.api + "/api/whoami",
                headers={
                    "origin": spa_localhost.rstrip("/"),
                    "access-control-request-method": "GET",
                    "access-control-request-headers": "authorization",
                },
            )
            assert preflight.status_code == 200
        ports = [int(url.split(":")[2].split("/")[0]) for url in (demo.spa, demo.docs, demo.issuer)]
        assert demo.stop() == 0
    for port in ports:
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"http://127.0.0.1:{port}/", timeout=5)
    assert not any("Traceback" in line for line in demo.output), demo.output


def test_dev_issuer_process_rotates_keys_and_stops_on_ctrl_c() -> None:
    """`dev-issuer --rotate-every` publishes each new key; SIGINT stops it with status 0."""
    argv = [sys.executable, "-m", "okta_bearer", "dev-issuer", "--port", "0"]
    process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
        [*argv, "--rotate-every", "0.2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert process.stdout is not None
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        for line in process.stdout or ():
            lines.put(line)

    reader = threading.Thread(target=pump)
    reader.start()

    def next_line() -> str:
        try:
            return lines.get(timeout=60)
        except queue.Empty:
            raise AssertionError("dev-issuer printed nothing for 60 s") from None

    try:
        first = next_line()
        assert first.startswith("okta_bearer dev issuer: http://127.0.0.1:"), first
        issuer = first.split(": ", 1)[1].strip()
        rotated = ""
        while not rotated.startswith("rotated:"):
            rotated = next_line()
        kid = rotated.rsplit(" ", 1)[1].strip()
        keys = httpx.get(f"{issuer}/v1/keys", timeout=30).json()["keys"]
        assert kid in [key["kid"] for key in keys]
        assert len(keys) <= 2
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=60) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        reader.join(timeout=30)
        process.stdout.close()


def test_missing_extra_is_named(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without uvicorn installed, dev-issuer says which extra to install instead of crashing."""
    monkeypatch.setitem(sys.modules, "uvicorn", None)
    assert main(["dev-issuer", "--port", "0"]) == 2
    assert "okta-bearer[dev]" in capsys.readouterr().err
