"""The ``okta-bearer`` argument parser and ``main(argv) -> int``."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Callable, Sequence
from typing import TextIO

from ._check import cmd_check
from ._common import (
    DEFAULT_API_PORT,
    DEFAULT_AUDIENCE,
    DEFAULT_HOST,
    DEFAULT_ISSUER,
    DEFAULT_ISSUER_PORT,
    DEFAULT_PATH,
    DEFAULT_SPA_PORT,
    DEMO_CLIENT_ID,
    EXIT_OK,
    EXIT_USAGE,
    CLIError,
)
from ._dev import cmd_demo, cmd_dev_issuer
from ._dpop import KEY_ALGORITHMS, cmd_keygen, cmd_proof
from ._tokens import cmd_decode, cmd_mint, cmd_rotate, cmd_verify

_USER_HELP = (
    "A user who may sign in, as LOGIN:PASSWORD. Repeat it for several users. "
    "Default: alice@example.com:wonderland."
)


def _add_issuer_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--host", default=DEFAULT_HOST, help="The address to listen on. Default: %(default)s."
    )
    parser.add_argument(
        "--issuer-path",
        default=DEFAULT_PATH,
        help="The path of the issuer URL. Default: %(default)s.",
    )
    parser.add_argument(
        "--audience",
        default=DEFAULT_AUDIENCE,
        help="The aud of the access tokens it issues. Default: %(default)s.",
    )
    parser.add_argument(
        "--user", action="append", default=[], metavar="LOGIN:PASSWORD", help=_USER_HELP
    )
    parser.add_argument(
        "--scope",
        action="append",
        default=[],
        help="A custom scope to offer besides openid, profile and email. Repeat it for "
        "several. Default: items:read and items:write.",
    )
    parser.add_argument(
        "--default-scope",
        action="append",
        default=[],
        help="A scope granted when a request asks for none; openid is then not required. "
        "Repeat it for several.",
    )
    parser.add_argument(
        "--keys-max-age",
        type=int,
        default=300,
        help="The Cache-Control max-age of /v1/keys, in seconds. Default: %(default)s.",
    )
    parser.add_argument(
        "--log-level",
        default="warning",
        choices=["critical", "error", "warning", "info", "debug"],
        help="The uvicorn log level; 'info' shows each request. Default: %(default)s.",
    )


class _Formatter(argparse.HelpFormatter):
    """Wraps descriptions, but keeps multi-line texts (the examples) as written."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        if "\n" in text:
            return "".join(indent + line for line in text.splitlines(keepends=True))
        return super()._fill_text(text, width, indent)


def _examples(*commands: str) -> str:
    return "examples:\n" + "\n".join(f"  {command}" for command in commands)


class _InOrder(argparse.Action):
    """Appends like ``append`` and records the order, so an --audience knows its --issuer."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: object,
        option_string: str | None = None,
    ) -> None:
        setattr(namespace, self.dest, [*(getattr(namespace, self.dest, None) or []), values])
        namespace.order = [*(getattr(namespace, "order", None) or []), (self.dest, values)]


_SEVERAL_ISSUERS = (
    "To trust several issuers, repeat --issuer: each token is routed by its (unverified) iss "
    "to the issuer configured with exactly that URL, and any other iss is refused without a "
    "request. An --audience before the first --issuer is shared by every issuer; one after an "
    "--issuer is that issuer's own (added to the shared ones)."
)


def _add_verifier_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--issuer",
        required=True,
        action=_InOrder,
        metavar="URL",
        help="The issuer, exactly as in the token's iss, e.g. "
        "https://dev-123456.okta.com/oauth2/default. Repeat it to trust several issuers.",
    )
    parser.add_argument(
        "--audience",
        required=True,
        action=_InOrder,
        metavar="AUD",
        help="An accepted aud, e.g. api://default. Repeat it for several. After an --issuer "
        "it is that issuer's own; before the first --issuer it is shared by all.",
    )
    parser.add_argument(
        "--scope",
        action="append",
        default=[],
        metavar="SCOPE",
        help="A scope the token must hold, e.g. items:read. Repeat it for several.",
    )
    parser.add_argument(
        "--client-id",
        action="append",
        default=[],
        metavar="ID",
        help="Accept only tokens from this client (cid), e.g. 0oa1b2c3d4. Repeat it for several.",
    )
    parser.add_argument(
        "--jwks-uri",
        metavar="URL",
        help="The URL of the issuer's keys. Default: discovered from the issuer. "
        "It needs a single --issuer.",
    )
    parser.add_argument(
        "--algorithm",
        action="append",
        metavar="ALG",
        help="An accepted signature algorithm. Repeat it for several. Default: RS256.",
    )
    parser.add_argument(
        "--leeway",
        type=float,
        default=30.0,
        metavar="S",
        help="The clock skew tolerated, in seconds. Default: %(default)s.",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=10.0,
        metavar="S",
        help="How long fetching the keys may take, in seconds. Default: %(default)s.",
    )


def _add_mint(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    mint = commands.add_parser(
        "mint",
        formatter_class=_Formatter,
        help="Get a token from a running dev issuer (for curl).",
        description="Ask a running dev issuer (okta-bearer dev-issuer or demo) for an access "
        "token and print it. The token comes from the issuer's loopback-only /dev/mint, which "
        "no web page can reach. With --dpop-key the CLI computes the key's RFC 7638 thumbprint "
        "and asks for a token bound to it (token_type DPoP, cnf.jkt); the private key never "
        "leaves this machine, and every other option still applies.",
        epilog=_examples(
            'curl -H "Authorization: Bearer $(okta-bearer mint)" http://127.0.0.1:9401/api/whoami',
            "okta-bearer mint --scope openid --scope items:write --expires-in 300",
            "okta-bearer mint --resource http://127.0.0.1:8000/mcp",
            "okta-bearer mint --audience api://other --client-token --json",
            "okta-bearer keygen key.json && okta-bearer mint --dpop-key key.json",
            f'curl -d client_id={DEMO_CLIENT_ID} -d "token=$(okta-bearer mint --opaque)" '
            + DEFAULT_ISSUER
            + "/v1/introspect",
        ),
    )
    mint.add_argument(
        "--issuer", default=DEFAULT_ISSUER, help="The dev issuer's URL. Default: %(default)s."
    )
    mint.add_argument(
        "--scope",
        action="append",
        default=[],
        metavar="SCOPE",
        help="A scope to grant, e.g. items:write. Repeat it for several. "
        "Default: openid and items:read.",
    )
    who = mint.add_mutually_exclusive_group()
    who.add_argument(
        "--user",
        metavar="LOGIN",
        help="The user the token is for, one the dev issuer knows. Default: its first user.",
    )
    who.add_argument(
        "--client-token",
        action="store_true",
        help="Get a token for the client itself, with no user.",
    )
    mint.add_argument(
        "--client-id",
        metavar="ID",
        help="A registered client's id. Default: the first registered client.",
    )
    mint.add_argument(
        "--expires-in",
        type=int,
        metavar="S",
        help="The token's lifetime in seconds. Default: 3600.",
    )
    aud = mint.add_mutually_exclusive_group()
    aud.add_argument(
        "--audience",
        metavar="AUD",
        help="The token's aud, in place of the dev issuer's own audience.",
    )
    aud.add_argument(
        "--resource",
        metavar="URL",
        help="The API the token is for, as an RFC 8707 resource indicator, e.g. an MCP "
        "server's URL; it becomes the token's aud.",
    )
    mint.add_argument(
        "--opaque",
        action="store_true",
        help="Get an opaque token (not a JWT), which only the issuer's /v1/introspect can judge.",
    )
    mint.add_argument(
        "--dpop-key",
        metavar="FILE",
        help="Bind the token to the DPoP key in FILE (made by okta-bearer keygen): its "
        "thumbprint becomes the token's cnf.jkt (RFC 9449), so each call needs a proof from "
        "okta-bearer proof.",
    )
    mint.add_argument("--json", action="store_true", help="Print the whole token response.")
    mint.add_argument("--timeout", type=float, default=10.0, help=argparse.SUPPRESS)
    mint.set_defaults(handler=cmd_mint)


def _add_dpop(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    keygen = commands.add_parser(
        "keygen",
        formatter_class=_Formatter,
        help="Create a DPoP key file.",
        description="Create a key pair for DPoP (RFC 9449) and write it to PATH as a private "
        "JWK, readable by you only. Print its thumbprint, which a token bound to the key "
        "carries as cnf.jkt.",
        epilog=_examples(
            "okta-bearer keygen key.json",
            "okta-bearer keygen --algorithm EdDSA --force key.json",
        ),
    )
    keygen.add_argument("path", metavar="PATH", help="The key file to create.")
    keygen.add_argument(
        "--algorithm",
        choices=KEY_ALGORITHMS,
        default="ES256",
        help="The key's signature algorithm. Default: %(default)s.",
    )
    keygen.add_argument("--force", action="store_true", help="Replace PATH if it exists.")
    keygen.set_defaults(handler=cmd_keygen)

    proof = commands.add_parser(
        "proof",
        formatter_class=_Formatter,
        help="Print a DPoP proof for one request.",
        description="Sign a DPoP proof (RFC 9449) with the key in --key for one request and "
        "print it, for the request's DPoP header. A proof is good for one request: make a new "
        "one for each. The query and fragment of --url are left out of the proof, as RFC 9449 "
        "requires.",
        epilog=_examples(
            "okta-bearer proof --key key.json --method GET "
            '--url http://127.0.0.1:9401/api/whoami --token "$TOKEN"',
            'curl -H "Authorization: DPoP $TOKEN" -H "DPoP: $(okta-bearer proof --key key.json '
            '--method GET --url http://127.0.0.1:9401/api/whoami --token "$TOKEN")" '
            "http://127.0.0.1:9401/api/whoami",
        ),
    )
    proof.add_argument(
        "--key", required=True, metavar="FILE", help="The key file made by okta-bearer keygen."
    )
    proof.add_argument(
        "--method", required=True, help="The request's HTTP method, e.g. GET or POST."
    )
    proof.add_argument("--url", required=True, help="The URL the request is sent to.")
    proof.add_argument(
        "--token",
        metavar="TOKEN",
        help="The access token the request carries; the proof then holds its hash (ath). "
        "Leave it out for a proof sent to a token endpoint.",
    )
    proof.add_argument(
        "--nonce",
        help="The nonce the API asked for in its DPoP-Nonce header, when it asks for one.",
    )
    proof.set_defaults(handler=cmd_proof)


def build_parser() -> argparse.ArgumentParser:
    """The ``okta-bearer`` argument parser."""
    parser = argparse.ArgumentParser(
        prog="okta-bearer",
        formatter_class=_Formatter,
        description="Verify Okta and OpenID Connect access tokens, and run a local Okta-shaped "
        "issuer and demo.",
        epilog="exit status: 0 success, 1 the token was refused or a request failed, 2 a usage "
        "error, 3 the issuer could not be reached.\n\n"
        + _examples(
            "okta-bearer demo",
            "okta-bearer check --issuer https://dev-123456.okta.com/oauth2/default "
            "--audience api://default",
            'curl -H "Authorization: Bearer $(okta-bearer mint)" http://127.0.0.1:9401/api/whoami',
        ),
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    verify = commands.add_parser(
        "verify",
        formatter_class=_Formatter,
        help="Verify a token and print its claims.",
        description="Verify TOKEN against the issuer's published keys and print its claims as "
        "JSON. On failure print the reason (RFC 6750 error, reason code, description) and, for "
        "issuer, audience, client and scope refusals, what was expected and what the token holds. "
        + _SEVERAL_ISSUERS,
        epilog=_examples(
            "okta-bearer verify eyJraWQi... --issuer https://dev-123456.okta.com/oauth2/default "
            "--audience api://default",
            'okta-bearer verify "$(okta-bearer mint)" --issuer '
            + DEFAULT_ISSUER
            + " --audience api://default --scope items:read",
            "pbpaste | okta-bearer verify - --issuer ... --audience ...",
            "okta-bearer verify eyJraWQi... --audience api://default "
            "--issuer https://old-org.okta.com/oauth2/default "
            "--issuer https://new-org.okta.com/oauth2/default",
            "okta-bearer verify eyJraWQi... "
            "--issuer https://tenant-a.okta.com/oauth2/default --audience api://tenant-a "
            "--issuer https://tenant-b.okta.com/oauth2/aus1b2c3 --audience api://tenant-b",
        ),
    )
    verify.add_argument(
        "token", metavar="TOKEN", help="The access token, or - to read it from stdin."
    )
    _add_verifier_options(verify)
    verify.set_defaults(handler=cmd_verify)

    check = commands.add_parser(
        "check",
        formatter_class=_Formatter,
        help="Diagnose an issuer (discovery, keys) and a token, one line per check.",
        description="Fetch the issuer's metadata and keys and say, one line each, whether "
        "they fit this configuration; with --token, also judge the token's header, key, "
        "signature and every claim, each ok or FAIL with what was expected and what was found. "
        "The last line is the verdict of a TokenVerifier with the same options. With several "
        "--issuer, each issuer's discovery and keys are checked, and the token against the "
        "issuer its iss names. " + _SEVERAL_ISSUERS,
        epilog="exit status: 0 every check passed, 1 a check failed, 2 a usage or "
        "configuration error, 3 the issuer could not be reached.\n\n"
        + _examples(
            "okta-bearer check --issuer https://dev-123456.okta.com/oauth2/default "
            "--audience api://default",
            "okta-bearer check --issuer "
            + DEFAULT_ISSUER
            + ' --audience api://default --token "$(okta-bearer mint)" --scope items:write',
            "okta-bearer check --audience api://default "
            "--issuer https://old-org.okta.com/oauth2/default "
            "--issuer https://new-org.okta.com/oauth2/default --token eyJraWQi...",
        ),
    )
    check.add_argument(
        "--token",
        metavar="TOKEN",
        help="An access token to judge as well, or - to read it from stdin.",
    )
    _add_verifier_options(check)
    check.set_defaults(handler=cmd_check)

    decode = commands.add_parser(
        "decode",
        formatter_class=_Formatter,
        help="Show a token's header and claims, UNVERIFIED.",
        description="Decode TOKEN's header and claims WITHOUT verifying anything; the output is "
        "marked UNVERIFIED.",
        epilog=_examples(
            "okta-bearer decode eyJraWQi...", "okta-bearer mint | okta-bearer decode -"
        ),
    )
    decode.add_argument("token", metavar="TOKEN", help="The token, or - to read it from stdin.")
    decode.set_defaults(handler=cmd_decode)

    _add_mint(commands)
    _add_dpop(commands)

    rotate = commands.add_parser(
        "rotate",
        formatter_class=_Formatter,
        help="Make a running dev issuer sign with a new key.",
        description="Rotate the signing key of a running dev issuer. The previous key stays "
        "published unless --drop-old, so tokens it signed keep verifying.",
        epilog=_examples(
            "okta-bearer rotate", "okta-bearer rotate --drop-old --issuer " + DEFAULT_ISSUER
        ),
    )
    rotate.add_argument(
        "--issuer", default=DEFAULT_ISSUER, help="The dev issuer's URL. Default: %(default)s."
    )
    rotate.add_argument(
        "--drop-old",
        action="store_true",
        help="Stop publishing the previous key, so the tokens it signed are refused.",
    )
    rotate.add_argument("--timeout", type=float, default=10.0, help=argparse.SUPPRESS)
    rotate.set_defaults(handler=cmd_rotate)

    dev = commands.add_parser(
        "dev-issuer",
        formatter_class=_Formatter,
        help="Serve an Okta-shaped authorization server on loopback.",
        description="Serve the dev issuer: an Okta custom authorization server look-alike at "
        "http://HOST:PORT/oauth2/default with discovery, /v1/keys, /v1/authorize (implicit and "
        "code+PKCE) with a sign-in page, /v1/token, /v1/userinfo, and loopback-only "
        "/dev/mint and /dev/rotate. Default user: alice@example.com / wonderland.",
        epilog=_examples(
            "okta-bearer dev-issuer",
            "okta-bearer dev-issuer --port 9500 --client my-spa=http://localhost:3000/ "
            "--user bob@example.com:secret",
            "okta-bearer dev-issuer --scope orders:read --rotate-every 60",
        ),
    )
    dev.add_argument(
        "--port",
        type=int,
        default=DEFAULT_ISSUER_PORT,
        help="The port to listen on. Default: %(default)s.",
    )
    dev.add_argument(
        "--client",
        action="append",
        default=[],
        metavar="ID=URI[,URI...]",
        help="A client and its exact redirect URIs. Repeat it for several clients. Default: "
        f"{DEMO_CLIENT_ID}=http://localhost:8080/,http://127.0.0.1:8080/.",
    )
    dev.add_argument(
        "--rotate-every",
        type=float,
        metavar="SECONDS",
        help="Rotate the signing key every SECONDS seconds.",
    )
    _add_issuer_options(dev)
    dev.set_defaults(handler=cmd_dev_issuer)

    demo = commands.add_parser(
        "demo",
        formatter_class=_Formatter,
        help="Run the dev issuer, the example API and the SPA on loopback.",
        description="Start the dev issuer, the example FastAPI API (examples/api.py) and the "
        "single-page app (examples/spa/) in one process, print the SPA's URL, and stop all "
        "three on Ctrl-C. Sign in as alice@example.com / wonderland unless --user says "
        "otherwise. Port 0 picks a free port.",
        epilog=_examples(
            "okta-bearer demo",
            "okta-bearer demo --issuer-port 0 --api-port 0 --spa-port 0",
            "okta-bearer demo --user bob@example.com:secret --log-level info",
        ),
    )
    demo.add_argument(
        "--issuer-port",
        type=int,
        default=DEFAULT_ISSUER_PORT,
        help="The dev issuer's port. Default: %(default)s.",
    )
    demo.add_argument(
        "--api-port",
        type=int,
        default=DEFAULT_API_PORT,
        help="The example API's port. Default: %(default)s.",
    )
    demo.add_argument(
        "--spa-port",
        type=int,
        default=DEFAULT_SPA_PORT,
        help="The single-page app's port. Default: %(default)s.",
    )
    _add_issuer_options(demo)
    demo.set_defaults(handler=cmd_demo)
    _help_as_sentence(parser)
    return parser


def _help_as_sentence(parser: argparse.ArgumentParser) -> None:
    """Give -h, in ``parser`` and every subcommand, a help text that reads as a sentence."""
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction):
            action.help = "Show this help and exit."
        elif isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                _help_as_sentence(sub)


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``okta-bearer`` with ``argv`` (default: ``sys.argv[1:]``); returns the exit status."""
    parser = build_parser()
    out, err = sys.stdout, sys.stderr
    try:
        args = parser.parse_args(argv)
        handler: Callable[[argparse.Namespace, TextIO, TextIO], int] = args.handler
        return handler(args, out, err)
    except SystemExit as exc:  # argparse: --help (0) or a usage error (2)
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    except CLIError as exc:
        print(f"okta-bearer: {exc}", file=err)
        return exc.status
    except KeyboardInterrupt:
        return EXIT_OK
    except BrokenPipeError:  # e.g. `okta-bearer decode ... | head`
        with contextlib.suppress(OSError):
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - silence the exit-time flush
        return EXIT_OK
