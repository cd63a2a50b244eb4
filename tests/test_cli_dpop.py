"""okta-bearer keygen, proof and mint --audience/--resource/--dpop-key, run through main(argv)."""

from __future__ import annotations

import argparse
import json
import stat
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from okta_bearer._cli import build_parser, main
from okta_bearer._cli._dpop import load_key
from okta_bearer._dpop.proof import InvalidDPoPProof, check_proof
from okta_bearer.dev_issuer import DevIssuer

from .dev_issuer.helpers import jwt_part
from .servers import running_dev_issuer

MCP = "http://127.0.0.1:8000/mcp"


@pytest.fixture(scope="module")
def running() -> Iterator[DevIssuer]:
    """A dev issuer served by uvicorn on a free loopback port."""
    with running_dev_issuer() as dev:
        yield dev


@pytest.fixture
def key_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    """A key file made by `okta-bearer keygen`."""
    path = tmp_path / "key.json"
    assert main(["keygen", str(path)]) == 0
    capsys.readouterr()
    return path


def out_of(capsys: pytest.CaptureFixture[str]) -> str:
    """What the last command printed on stdout, stripped."""
    return capsys.readouterr().out.strip()


def _helps(parser: argparse.ArgumentParser) -> Iterator[tuple[str, str]]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for choice in action._choices_actions:
                yield f"{parser.prog} {choice.dest}", choice.help or ""
            for name, sub in action.choices.items():
                yield from ((f"{name} {opt}", text) for opt, text in _helps(sub))
        elif action.help not in (None, argparse.SUPPRESS):
            yield "/".join(action.option_strings) or action.dest, str(action.help)


def test_every_help_text_is_a_sentence() -> None:
    """Each option's and command's help starts with a capital letter and ends with a full stop."""
    found = list(_helps(build_parser()))
    assert len(found) > 50
    bad = [
        (where, text) for where, text in found if not (text[:1].isupper() and text.endswith("."))
    ]
    assert bad == []


@pytest.mark.parametrize("command", [["keygen"], ["proof"]])
def test_help_of_new_commands_shows_examples(
    command: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    """keygen --help and proof --help exit 0 and show runnable examples."""
    assert main([*command, "--help"]) == 0
    out = capsys.readouterr().out
    assert "examples:\n  okta-bearer " + command[0] in out


def test_keygen_writes_a_private_jwk_for_its_owner_only(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """keygen writes an ES256 private JWK with mode 0600 and prints its thumbprint."""
    path = tmp_path / "key.json"
    assert main(["keygen", str(path)]) == 0
    jkt = out_of(capsys)
    jwk = json.loads(path.read_text())
    assert (jwk["kty"], jwk["crv"], jwk["alg"]) == ("EC", "P-256", "ES256")
    assert "d" in jwk
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(jkt) == 43


def test_keygen_never_overwrites_without_force(
    key_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An existing key file is kept (exit 2) unless --force replaces it."""
    before = key_file.read_text()
    assert main(["keygen", str(key_file)]) == 2
    assert "--force" in capsys.readouterr().err
    assert key_file.read_text() == before
    assert main(["keygen", "--force", "--algorithm", "EdDSA", str(key_file)]) == 0
    assert json.loads(key_file.read_text())["crv"] == "Ed25519"


@pytest.mark.parametrize("algorithm", ["ES256", "EdDSA", "PS256"])
def test_proof_verifies_for_its_request(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], algorithm: str
) -> None:
    """proof prints a proof that RFC 9449's checks accept for that method, URL and token."""
    path = tmp_path / "key.json"
    assert main(["keygen", "--algorithm", algorithm, str(path)]) == 0
    jkt = out_of(capsys)
    url = "http://127.0.0.1:9401/api/whoami"
    argv = ["proof", "--key", str(path), "--method", "GET", "--token", "tok.en.x"]
    assert main([*argv, "--url", url + "?page=2#top"]) == 0
    proof = out_of(capsys)
    checked = check_proof(
        proof, method="GET", url=url, now=jwt_part(proof, 1)["iat"], access_token="tok.en.x"
    )
    assert checked.jkt == jkt
    assert jwt_part(proof, 1)["htu"] == url  # query and fragment left out (RFC 9449 4.2)
    with pytest.raises(InvalidDPoPProof):
        check_proof(
            proof, method="POST", url=url, now=jwt_part(proof, 1)["iat"], access_token="tok.en.x"
        )


def test_proof_without_token_has_no_ath_and_carries_a_nonce(
    key_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without --token the proof has no ath (for a token endpoint); --nonce is carried."""
    argv = ["proof", "--key", str(key_file), "--method", "POST", "--url", "http://a.test/token"]
    assert main([*argv, "--nonce", "n-1"]) == 0
    claims = jwt_part(out_of(capsys), 1)
    assert "ath" not in claims
    assert claims["nonce"] == "n-1"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--method", "GET", "--url", "ftp://a.test/x"], "absolute http"),
        (["--method", "GET", "--url", "/relative"], "absolute http"),
        (["--method", "GE T", "--url", "http://a.test/"], "HTTP method"),
        (["--method", "GET", "--url", "http://a.test/", "--token", " "], "access token itself"),
    ],
)
def test_proof_usage_errors(
    key_file: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    """A bad method, URL or token is a usage error (exit 2) that says what is wrong."""
    assert main(["proof", "--key", str(key_file), *argv]) == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "create one with `okta-bearer keygen"),
        ("not json", "not JSON"),
        ('{"kty": "EC"}', "needs an alg"),
        ('{"kty": "EC", "alg": "HS256", "k": "c2VjcmV0"}', "needs an alg"),
        ('{"kty": "EC", "alg": "ES256", "crv": "P-256", "x": "AA", "y": "AA"}', "valid ES256"),
    ],
)
def test_bad_key_files_are_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str | None, message: str
) -> None:
    """A missing, malformed, symmetric or broken key file is a usage error naming the fix."""
    path = tmp_path / "key.json"
    if content is not None:
        path.write_text(content)
    argv = ["proof", "--key", str(path), "--method", "GET", "--url", "http://a.test/"]
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_public_key_file_is_refused(key_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A key file without its private part cannot sign proofs (exit 2)."""
    jwk = json.loads(key_file.read_text())
    del jwk["d"]
    key_file.write_text(json.dumps(jwk))
    assert (
        main(["proof", "--key", str(key_file), "--method", "GET", "--url", "http://a.test/"]) == 2
    )
    assert "public key" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("flags", "aud"),
    [(["--audience", "api://other"], "api://other"), (["--resource", MCP], MCP)],
)
def test_mint_audience_and_resource(
    running: DevIssuer, capsys: pytest.CaptureFixture[str], flags: list[str], aud: str
) -> None:
    """mint --audience and --resource (RFC 8707) set the token's aud; it still verifies."""
    assert main(["mint", "--issuer", running.issuer, *flags]) == 0
    token = out_of(capsys)
    assert jwt_part(token, 1)["aud"] == aud
    argv = ["verify", token, "--issuer", running.issuer, "--audience", aud]
    assert main(argv) == 0


@pytest.mark.parametrize(
    ("flags", "status", "message"),
    [
        (["--resource", "not-a-url"], 1, "absolute URI"),
        (["--resource", MCP + "#frag"], 1, "absolute URI"),
        (["--audience", "api://x", "--opaque"], 1, "not opaque tokens"),
        (["--audience", "a", "--resource", MCP], 2, "not allowed with argument"),
        (["--password", "x"], 2, "unrecognized arguments: --password"),
    ],
)
def test_mint_audience_errors(
    running: DevIssuer,
    capsys: pytest.CaptureFixture[str],
    flags: list[str],
    status: int,
    message: str,
) -> None:
    """A bad resource or a conflicting flag is refused, saying why."""
    assert main(["mint", "--issuer", running.issuer, *flags]) == status
    assert message in capsys.readouterr().err


@pytest.mark.anyio
async def test_admin_mint_refuses_a_bad_audience(running: DevIssuer) -> None:
    """/dev/mint answers 400 for an audience that is not a non-empty string."""
    transport = httpx.ASGITransport(app=running, client=("127.0.0.1", 5000))
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:9400") as client:
        for audience in ("", 7, ["a"], "x" * 2001):
            answer = await client.post("/oauth2/default/dev/mint", json={"audience": audience})
            assert answer.status_code == 400
            assert "audience must be" in answer.json()["error_description"]


def test_mint_dpop_key_gets_a_bound_token(
    running: DevIssuer, key_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """mint --dpop-key gets a DPoP token bound to the key, keeping --resource, --scope, --json."""
    argv = ["mint", "--issuer", running.issuer, "--dpop-key", str(key_file), "--json"]
    assert main([*argv, "--resource", MCP, "--scope", "openid", "--scope", "items:write"]) == 0
    body = json.loads(out_of(capsys))
    assert body["token_type"] == "DPoP"
    claims = jwt_part(body["access_token"], 1)
    assert set(claims["cnf"]) == {"jkt"}
    assert (claims["aud"], claims["sub"], claims["scp"]) == (
        MCP,
        "alice@example.com",
        ["openid", "items:write"],
    )


def test_mint_dpop_key_binds_to_that_key(
    running: DevIssuer, key_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The token's cnf.jkt is the thumbprint keygen printed for the key file, and only it."""
    path = tmp_path / "mine.json"
    assert main(["keygen", str(path)]) == 0
    jkt = out_of(capsys)
    assert main(["mint", "--issuer", running.issuer, "--dpop-key", str(path)]) == 0
    token = out_of(capsys)
    assert jwt_part(token, 1)["cnf"] == {"jkt": jkt}
    assert main(["mint", "--issuer", running.issuer, "--dpop-key", str(key_file)]) == 0
    assert jwt_part(out_of(capsys), 1)["cnf"] != {"jkt": jkt}


@pytest.mark.parametrize(
    ("flags", "claims"),
    [
        (["--client-token"], {"sub": "0oaclitest", "scp": ["openid", "items:read"]}),
        (["--user", "alice@example.com", "--expires-in", "60"], {"sub": "alice@example.com"}),
        (["--audience", "api://other", "--scope", "items:write"], {"aud": "api://other"}),
    ],
)
def test_mint_dpop_key_keeps_the_other_options(
    running: DevIssuer,
    key_file: Path,
    capsys: pytest.CaptureFixture[str],
    flags: list[str],
    claims: dict[str, object],
) -> None:
    """--client-token, --user, --expires-in and --audience apply to a bound token as to any."""
    argv = ["mint", "--issuer", running.issuer, "--dpop-key", str(key_file), *flags]
    assert main(argv) == 0
    token = jwt_part(out_of(capsys), 1)
    assert {name: token[name] for name in claims} == claims
    assert "jkt" in token["cnf"]
    if "--expires-in" in flags:
        assert token["exp"] - token["iat"] == 60


def test_mint_dpop_key_opaque_introspects_as_dpop(
    running: DevIssuer, key_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """mint --dpop-key --opaque gets an opaque token the issuer introspects as DPoP-bound."""
    argv = ["mint", "--issuer", running.issuer, "--dpop-key", str(key_file), "--opaque"]
    assert main([*argv, "--json"]) == 0
    body = json.loads(out_of(capsys))
    assert body["token_type"] == "DPoP"
    answer = running.tokens.answer(body["access_token"])
    assert (answer["token_type"], answer["cnf"]) == ("DPoP", {"jkt": load_key(str(key_file)).jkt})


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "create one with `okta-bearer keygen"),
        ("not json", "not JSON"),
        ('{"kty": "EC", "alg": "HS256", "k": "c2VjcmV0"}', "needs an alg"),
    ],
)
def test_mint_dpop_key_bad_key_file(
    running: DevIssuer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    content: str | None,
    message: str,
) -> None:
    """A missing or unusable key file is a usage error (exit 2) before anything is minted."""
    path = tmp_path / "key.json"
    if content is not None:
        path.write_text(content)
    assert main(["mint", "--issuer", running.issuer, "--dpop-key", str(path)]) == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize(
    ("flags", "status", "message"),
    [
        (["--user", "mallory@example.com"], 1, "user must be a configured user"),
        (["--scope", "nope"], 1, "scopes must be offered"),
        (["--resource", "not-a-url"], 1, "absolute URI"),
        (["--expires-in", "0"], 1, "expires_in must be"),
        (["--password", "wonderland"], 2, "unrecognized arguments: --password"),
    ],
)
def test_mint_dpop_key_errors(
    running: DevIssuer,
    key_file: Path,
    capsys: pytest.CaptureFixture[str],
    flags: list[str],
    status: int,
    message: str,
) -> None:
    """An unknown user, a bad scope, resource or lifetime, or the removed --password fails."""
    argv = ["mint", "--issuer", running.issuer, "--dpop-key", str(key_file), *flags]
    assert main(argv) == status
    assert message in capsys.readouterr().err


def test_mint_dpop_key_unreachable_issuer(
    key_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An issuer that does not answer is exit status 3 with a hint."""
    argv = ["mint", "--issuer", "http://127.0.0.1:1/oauth2/default", "--dpop-key", str(key_file)]
    assert main([*argv, "--timeout", "2"]) == 3
    assert "is `okta-bearer dev-issuer`" in capsys.readouterr().err


def test_verify_and_check_say_a_bound_token_needs_its_proof(
    running: DevIssuer, key_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """verify and check accept a DPoP-bound token but say it works only with a proof."""
    assert main(["mint", "--issuer", running.issuer, "--dpop-key", str(key_file)]) == 0
    token = out_of(capsys)
    options = ["--issuer", running.issuer, "--audience", "api://default"]
    assert main(["verify", token, *options]) == 0
    printed = capsys.readouterr()
    assert "cnf" in json.loads(printed.out)
    assert "bound to a DPoP key" in printed.err
    assert "never as Bearer" in printed.err
    assert main(["check", *options, "--token", token]) == 0
    verdict = [line for line in capsys.readouterr().out.splitlines() if line.startswith("verdict")]
    assert verdict == [verdict[0]]
    assert verdict[0].startswith("verdict: accepted, but the token is bound to a DPoP key")


def test_verify_says_nothing_of_binding_for_a_bearer_token(
    running: DevIssuer, capsys: pytest.CaptureFixture[str]
) -> None:
    """A plain bearer token verifies without the binding note."""
    assert main(["mint", "--issuer", running.issuer]) == 0
    token = out_of(capsys)
    assert main(["verify", token, "--issuer", running.issuer, "--audience", "api://default"]) == 0
    assert "bound" not in capsys.readouterr().err
