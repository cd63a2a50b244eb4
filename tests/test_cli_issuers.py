"""`okta-bearer verify` and `check` with several --issuer, and `mint --opaque`, on loopback."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from okta_bearer._cli import main
from okta_bearer._opaque.issuers import is_jwt_shaped
from okta_bearer.dev_issuer import DevClient, DevIssuer
from okta_bearer.testing import LocalIssuer

from .servers import loopback_socket, origin_of, serve

RS_ID, RS_SECRET = "0oacliresource", "cli-resource-secret"


def dev_issuer(audience: str) -> Iterator[DevIssuer]:
    """A dev issuer whose tokens carry ``audience``, served on a free loopback port."""
    sock = loopback_socket()
    local = LocalIssuer(f"{origin_of(sock)}/oauth2/default", audience)
    dev = DevIssuer(
        local,
        clients=[
            DevClient("0oaclitest", ("http://127.0.0.1:1/",)),
            DevClient(RS_ID, (), RS_SECRET),  # only confidential clients may introspect
        ],
    )
    with serve(dev, sock=sock):
        yield dev


@pytest.fixture(scope="module")
def first() -> Iterator[DevIssuer]:
    """The first issuer: audience api://first."""
    yield from dev_issuer("api://first")


@pytest.fixture(scope="module")
def second() -> Iterator[DevIssuer]:
    """The second issuer: audience api://second."""
    yield from dev_issuer("api://second")


def own(first: DevIssuer, second: DevIssuer) -> list[str]:
    """Each issuer with its own audience."""
    return [
        *("--issuer", first.issuer, "--audience", "api://first"),
        *("--issuer", second.issuer, "--audience", "api://second"),
    ]


@pytest.mark.parametrize("which", ["first", "second"])
def test_verify_routes_each_token_to_its_issuer(
    which: str, first: DevIssuer, second: DevIssuer, capsys: pytest.CaptureFixture[str]
) -> None:
    """A token from either configured issuer is verified by that issuer's keys and audience."""
    dev = first if which == "first" else second
    assert main(["verify", dev.local.mint(), *own(first, second)]) == 0
    assert f'"iss": "{dev.issuer}"' in capsys.readouterr().out


def test_verify_refuses_a_token_with_the_other_issuers_audience(
    first: DevIssuer, second: DevIssuer, capsys: pytest.CaptureFixture[str]
) -> None:
    """A second-issuer token carrying the first issuer's audience is refused (bad_audience)."""
    token = second.local.mint(aud="api://first")
    assert main(["verify", token, *own(first, second)]) == 1
    err = capsys.readouterr().err
    assert "(bad_audience)" in err
    assert "expected: api://second" in err


def test_verify_refuses_an_unconfigured_issuer_without_fetching(
    first: DevIssuer, second: DevIssuer, capsys: pytest.CaptureFixture[str]
) -> None:
    """An iss nobody configured is unknown_issuer (exit 1), not an unreachable-issuer 503."""
    stranger = LocalIssuer("http://127.0.0.1:9/oauth2/default", "api://first")
    assert main(["verify", stranger.mint(), *own(first, second)]) == 1
    err = capsys.readouterr().err
    assert "(unknown_issuer)" in err
    assert f"got: {stranger.issuer}" in err


def test_shared_audience_applies_to_every_issuer(
    first: DevIssuer, second: DevIssuer, capsys: pytest.CaptureFixture[str]
) -> None:
    """An --audience before the first --issuer is accepted for tokens of each issuer."""
    shared = ["--audience", "api://shared", "--issuer", first.issuer, "--issuer", second.issuer]
    for dev in (first, second):
        assert main(["verify", dev.local.mint(aud="api://shared"), *shared]) == 0
    capsys.readouterr()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["--issuer", "https://a.example", "--issuer", "https://b.example", "--audience", "x"],
            "--issuer https://a.example has no audience",
        ),
        (
            ["--audience", "x", "--issuer", "https://a.example", "--issuer", "https://a.example"],
            "--issuer https://a.example is given twice",
        ),
        (
            ["--audience", "x", "--issuer", "https://a.example", "--issuer", "https://b.example",
             "--jwks-uri", "https://a.example/keys"],
            "--jwks-uri needs a single --issuer",
        ),
    ],
    ids=["issuer-without-audience", "issuer-twice", "jwks-uri-with-several"],
)  # fmt: skip
def test_several_issuer_mistakes_are_usage_errors(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Ambiguous issuer options exit 2 with a message naming the option, before any request."""
    assert main(["verify", "eyJ.eyJ.sig", *argv]) == 2
    assert message in capsys.readouterr().err


def test_help_shows_several_issuer_examples(capsys: pytest.CaptureFixture[str]) -> None:
    """verify --help and check --help explain the routing and show two-issuer commands."""
    for command in ("verify", "check"):
        assert main([command, "--help"]) == 0
        text = " ".join(capsys.readouterr().out.split())
        assert "routed by its (unverified) iss" in text
        assert "--issuer https://old-org.okta.com/oauth2/default --issuer" in text


def test_check_reports_both_issuers_and_routes_the_token(
    first: DevIssuer, second: DevIssuer, capsys: pytest.CaptureFixture[str]
) -> None:
    """check fetches each issuer's discovery and keys, then judges the token against its iss."""
    token = second.local.mint()
    assert main(["check", *own(first, second), "--token", token]) == 0
    out = capsys.readouterr().out
    assert out.count("issuer matches") == 2
    assert first.local.kid in out
    assert second.local.kid in out
    assert f"iss {second.issuer!r} is a configured issuer" in out
    assert out.rstrip().endswith("verdict: accepted")


def test_check_names_an_unrouted_token(
    first: DevIssuer, second: DevIssuer, capsys: pytest.CaptureFixture[str]
) -> None:
    """A token whose iss is not configured fails the route line and the verdict (exit 1)."""
    stranger = LocalIssuer("http://127.0.0.1:9/oauth2/default")
    assert main(["check", *own(first, second), "--token", stranger.mint()]) == 1
    out = capsys.readouterr().out
    assert "FAIL  route" in out
    assert "(unknown_issuer)" in out


def test_mint_opaque_prints_a_token_the_issuer_introspects(
    first: DevIssuer, capsys: pytest.CaptureFixture[str]
) -> None:
    """mint --opaque prints a token that is not a JWT and that /v1/introspect calls active."""
    assert main(["mint", "--opaque", "--issuer", first.issuer, "--scope", "items:read"]) == 0
    token = capsys.readouterr().out.strip()
    assert not is_jwt_shaped(token)
    answer = httpx.post(
        f"{first.issuer}/v1/introspect", data={"token": token}, auth=(RS_ID, RS_SECRET)
    ).json()
    assert answer["active"] is True
    assert answer["scope"] == "items:read"
