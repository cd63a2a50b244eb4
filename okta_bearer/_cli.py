"""``okta-bearer``: verify and decode tokens, run the dev issuer and the demo.

``main(argv) -> int`` is the whole program, so tests call it in-process.  Exit
status: 0 success, 1 the token was rejected (or a request failed), 2 a usage or
configuration error, 3 the issuer could not be reached.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import binascii
import contextlib
import errno
import importlib.util
import json
import os
import signal
import socket
import sys
from collections.abc import Callable, Coroutine, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, Literal, TextIO

import httpx

from ._errors import BearerError, ConfigurationError, KeysUnavailable
from ._verifier import TokenVerifier

__all__ = ["main"]

DEFAULT_HOST = "127.0.0.1"
DEFAULT_ISSUER_PORT = 9400
DEFAULT_API_PORT = 9401
DEFAULT_SPA_PORT = 9402
DEFAULT_PATH = "/oauth2/default"
DEFAULT_ISSUER = f"http://{DEFAULT_HOST}:{DEFAULT_ISSUER_PORT}{DEFAULT_PATH}"
DEFAULT_AUDIENCE = "api://default"
DEMO_CLIENT_ID = "0oademospa0client0id"

EXIT_OK, EXIT_REJECTED, EXIT_USAGE, EXIT_UNREACHABLE = 0, 1, 2, 3


class CLIError(Exception):
    """A failure reported as one line on stderr with an exit status."""

    def __init__(self, message: str, status: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.status = status


# -- verify and decode -------------------------------------------------------------


def _read_token(value: str, stdin: TextIO) -> str:
    token = stdin.read().strip() if value == "-" else value.strip()
    if token.lower().startswith("bearer "):
        token = token[7:].strip()
    if not token:
        raise CLIError("no token given")
    return token


def _cmd_verify(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    token = _read_token(args.token, sys.stdin)

    async def run() -> dict[str, Any]:
        options: dict[str, Any] = {"leeway": args.leeway}
        if args.jwks_uri:
            options["jwks_uri"] = args.jwks_uri
        if args.algorithm:
            options["algorithms"] = tuple(args.algorithm)
        async with TokenVerifier(args.issuer, args.audience, timeout=args.timeout, **options) as v:
            claims = await v.verify(token, tuple(args.scope))
        return dict(claims.raw)

    try:
        payload = asyncio.run(run())
    except ConfigurationError as exc:
        raise CLIError(f"configuration error: {exc}") from exc
    except BearerError as exc:
        code = exc.error or "missing_token"
        print(f"rejected: {code} ({exc.reason}): {exc.description}", file=err)
        required = getattr(exc, "required", None)
        if required:
            print(f"required scopes: {' '.join(required)}", file=err)
        return EXIT_UNREACHABLE if isinstance(exc, KeysUnavailable) else EXIT_REJECTED
    print(json.dumps(payload, indent=2, sort_keys=True), file=out)
    return EXIT_OK


def _b64json(segment: str, what: str) -> Any:
    try:
        raw = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
        return json.loads(raw)
    except (binascii.Error, ValueError) as exc:
        raise CLIError(f"the {what} is not base64url-encoded JSON", EXIT_REJECTED) from exc


def _cmd_decode(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    token = _read_token(args.token, sys.stdin)
    parts = token.split(".")
    if len(parts) != 3:
        raise CLIError(f"not a compact JWS: expected 3 parts, got {len(parts)}", EXIT_REJECTED)
    document = {
        "UNVERIFIED": "decoded only: signature, issuer, audience and expiry were NOT checked",
        "header": _b64json(parts[0], "header"),
        "claims": _b64json(parts[1], "payload"),
    }
    print("UNVERIFIED token contents (use `okta-bearer verify` to check it):", file=err)
    print(json.dumps(document, indent=2, sort_keys=True), file=out)
    return EXIT_OK


# -- talking to a running dev issuer ------------------------------------------------


def _admin_post(issuer: str, path: str, body: dict[str, Any], timeout: float) -> dict[str, Any]:
    url = issuer.rstrip("/") + path
    try:
        response = httpx.post(url, json=body, timeout=timeout)
    except httpx.HTTPError as exc:
        raise CLIError(
            f"cannot reach the dev issuer at {issuer} ({type(exc).__name__}); "
            "is `okta-bearer dev-issuer` (or `okta-bearer demo`) running?",
            EXIT_UNREACHABLE,
        ) from exc
    try:
        data = response.json()
    except ValueError:
        data = None
    if response.status_code != 200 or not isinstance(data, dict):
        detail = data.get("error_description") if isinstance(data, dict) else None
        raise CLIError(
            f"the dev issuer answered {response.status_code} to {path}: {detail or 'no details'}",
            EXIT_REJECTED,
        )
    return data


def _cmd_mint(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    body: dict[str, Any] = {"scopes": args.scope or ["openid", "items:read"]}
    if args.client_token:
        body["user"] = None
    elif args.user:
        body["user"] = args.user
    if args.client_id:
        body["client_id"] = args.client_id
    if args.expires_in is not None:
        body["expires_in"] = args.expires_in
    data = _admin_post(args.issuer, "/dev/mint", body, args.timeout)
    print(json.dumps(data, indent=2) if args.json else data["access_token"], file=out)
    return EXIT_OK


def _cmd_rotate(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    data = _admin_post(args.issuer, "/dev/rotate", {"keep_old": not args.drop_old}, args.timeout)
    print(f"now signing with kid {data['kid']}; published: {', '.join(data['kids'])}", file=out)
    return EXIT_OK


# -- serving --------------------------------------------------------------------------


def bind(host: str, port: int, flag: str) -> socket.socket:
    """A TCP socket bound to ``host:port``, or a CLIError naming the port and the option."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        reason = "already in use" if exc.errno == errno.EADDRINUSE else exc.strerror
        raise CLIError(
            f"cannot listen on {host}:{port}: {reason}; choose another port with {flag}"
        ) from exc
    return sock


def _url_host(host: str) -> str:
    if host in ("0.0.0.0", "", "::"):  # noqa: S104 - only mapping a wildcard to a URL host
        return DEFAULT_HOST
    return f"[{host}]" if ":" in host else host


@dataclass
class _Served:
    name: str
    app: Any
    sock: socket.socket
    lifespan: Literal["auto", "on", "off"] = "auto"


def _run_servers(
    served: Sequence[_Served],
    *,
    log_level: str,
    on_ready: Callable[[], None],
    background: Sequence[Callable[[], Coroutine[Any, Any, None]]] = (),
) -> int:
    """Serve every app in one event loop until SIGINT/SIGTERM; 0 after a clean stop."""
    try:
        import uvicorn
    except ImportError as exc:
        for s in served:
            s.sock.close()
        raise CLIError("serving needs uvicorn: pip install 'okta-bearer[dev]'") from exc

    class Server(uvicorn.Server):
        # One signal handler for all servers (installed below), not one each.
        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            yield

        def install_signal_handlers(self) -> None:  # uvicorn < 0.29
            return None

    async def run() -> int:
        loop = asyncio.get_running_loop()
        servers = [
            Server(uvicorn.Config(s.app, log_level=log_level, lifespan=s.lifespan)) for s in served
        ]
        stop = asyncio.Event()

        def on_signal() -> None:
            if stop.is_set():  # a second Ctrl-C: stop waiting for open connections
                for server in servers:
                    server.force_exit = True
            stop.set()

        signals = (signal.SIGINT, signal.SIGTERM)
        for sig in signals:
            loop.add_signal_handler(sig, on_signal)
        tasks = [
            asyncio.create_task(server.serve(sockets=[s.sock]))
            for server, s in zip(servers, served, strict=True)
        ]
        extra: list[asyncio.Task[None]] = []
        try:
            while not all(server.started for server in servers):
                if any(task.done() for task in tasks):
                    return EXIT_REJECTED
                await asyncio.sleep(0.02)
            on_ready()
            extra = [asyncio.create_task(job()) for job in background]
            waiter = asyncio.create_task(stop.wait())
            await asyncio.wait([*tasks, waiter], return_when=asyncio.FIRST_COMPLETED)
            waiter.cancel()
            crashed = any(task.done() for task in tasks) and not stop.is_set()
            return EXIT_REJECTED if crashed else EXIT_OK
        finally:
            for server in servers:
                server.should_exit = True
            for job in extra:
                job.cancel()
            await asyncio.gather(*tasks, *extra, return_exceptions=True)
            for sig in signals:
                loop.remove_signal_handler(sig)

    try:
        return asyncio.run(run())
    finally:
        for s in served:
            s.sock.close()


def _parse_clients(values: Sequence[str]) -> list[Any]:
    from .dev_issuer import DevClient

    clients = []
    for value in values:
        client_id, sep, uris = value.partition("=")
        redirect_uris = tuple(u for u in uris.split(",") if u)
        if not sep or not client_id or not redirect_uris:
            raise CLIError(
                f"--client must look like CLIENT_ID=REDIRECT_URI[,URI...], got {value!r}"
            )
        clients.append(DevClient(client_id, redirect_uris))
    return clients


def _parse_users(values: Sequence[str]) -> dict[str, str] | None:
    if not values:
        return None
    users = {}
    for value in values:
        login, sep, password = value.partition(":")
        if not sep or not login or not password:
            raise CLIError(f"--user must look like LOGIN:PASSWORD, got {value!r}")
        users[login] = password
    return users


def _check_path(path: str) -> str:
    if not path.startswith("/") or "?" in path or "#" in path:
        raise CLIError(f"--issuer-path must be a path starting with '/', got {path!r}")
    return path.rstrip("/")


def _build_issuer(
    args: argparse.Namespace, port: int, clients: list[Any], extra_scopes: Sequence[str] = ()
) -> Any:
    from .dev_issuer import DEFAULT_SCOPES, DevIssuer
    from .testing import LocalIssuer

    issuer_url = f"http://{_url_host(args.host)}:{port}{_check_path(args.issuer_path)}"
    scopes = tuple(dict.fromkeys([*(args.scope or DEFAULT_SCOPES), *extra_scopes]))
    local = LocalIssuer(
        issuer_url,
        args.audience,
        client_id=clients[0].client_id if clients else DEMO_CLIENT_ID,
        scopes=("openid", *scopes),
        keys_max_age=args.keys_max_age,
    )
    try:
        return DevIssuer(
            local,
            clients=clients,
            users=_parse_users(args.user),
            scopes=scopes,
            default_scopes=tuple(args.default_scope),
        )
    except ValueError as exc:
        raise CLIError(str(exc)) from exc


def _rotation_job(dev: Any, every: float, out: TextIO) -> Callable[[], Coroutine[Any, Any, None]]:
    async def rotate_forever() -> None:
        while True:
            await asyncio.sleep(every)
            kid = dev.rotate(keep_old=True)
            print(f"rotated: now signing with kid {kid}", file=out, flush=True)

    return rotate_forever


def _cmd_dev_issuer(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    clients = _parse_clients(args.client) or _parse_clients(
        [f"{DEMO_CLIENT_ID}=http://localhost:8080/,http://127.0.0.1:8080/"]
    )
    sock = bind(args.host, args.port, "--port")
    try:
        dev = _build_issuer(args, sock.getsockname()[1], clients)
    except BaseException:
        sock.close()
        raise

    def ready() -> None:
        user = next(iter(dev.users.values()))
        print(f"okta_bearer dev issuer: {dev.issuer}", file=out)
        print(f"  metadata: {dev.issuer}/.well-known/openid-configuration", file=out)
        for client in dev.clients.values():
            print(f"  client {client.client_id}: {', '.join(client.redirect_uris)}", file=out)
        print(f"  sign in as {user.login} / {user.password}", file=out)
        print(f"  token for curl: okta-bearer mint --issuer {dev.issuer}", file=out)
        print("Press Ctrl-C to stop.", file=out, flush=True)

    jobs = [_rotation_job(dev, args.rotate_every, out)] if args.rotate_every else []
    return _run_servers(
        [_Served("dev issuer", dev, sock, "off")],
        log_level=args.log_level,
        on_ready=ready,
        background=jobs,
    )


# -- demo --------------------------------------------------------------------------------


def _with_localhost(*urls: str) -> list[str]:
    """``urls`` plus their ``localhost`` spelling, for people who type that instead of 127.0.0.1."""
    alias = f"http://{DEFAULT_HOST}:"
    return [*urls, *(u.replace(alias, "http://localhost:", 1) for u in urls if u.startswith(alias))]


def examples_dir() -> Path:
    """The repository's ``examples/`` folder (the demo runs from a source checkout)."""
    return Path(__file__).resolve().parent.parent / "examples"


def load_example(name: str) -> ModuleType:
    """Import ``examples/{name}.py`` (they are scripts, not a package)."""
    path = examples_dir() / f"{name}.py"
    if not path.is_file():
        raise CLIError(
            f"{path} not found: `okta-bearer demo` runs from a source checkout "
            "(git clone, then pip install -e '.[demo]')"
        )
    spec = importlib.util.spec_from_file_location(f"okta_bearer_example_{name}", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except ImportError as exc:
        raise CLIError(
            f"examples/{name}.py needs {exc.name or 'a package'}: pip install -e '.[demo]'"
        ) from exc
    return module


def _cmd_demo(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    api_module = load_example("api")
    spa_module = load_example("spa_server")
    socks: list[socket.socket] = []
    try:
        for port, flag in (
            (args.issuer_port, "--issuer-port"),
            (args.api_port, "--api-port"),
            (args.spa_port, "--spa-port"),
        ):
            socks.append(bind(args.host, port, flag))
        issuer_port, api_port, spa_port = (s.getsockname()[1] for s in socks)
        host = _url_host(args.host)
        spa_origin = f"http://{host}:{spa_port}"
        api_base = f"http://{host}:{api_port}"
        clients = _parse_clients(
            [
                f"{DEMO_CLIENT_ID}="
                + ",".join(_with_localhost(spa_origin + "/", api_base + "/docs/oauth2-redirect"))
            ]
        )
        dev = _build_issuer(args, issuer_port, clients, extra_scopes=("items:read", "items:write"))
        api = api_module.create_app(
            issuer=dev.issuer,
            audience=args.audience,
            client_id=DEMO_CLIENT_ID,
            spa_origins=_with_localhost(spa_origin),
        )
        spa = spa_module.create_app(
            issuer=dev.issuer,
            client_id=DEMO_CLIENT_ID,
            api_base=api_base,
            scopes="openid profile email items:read",
        )
    except BaseException:
        for sock in socks:
            sock.close()
        raise

    def ready() -> None:
        user = next(iter(dev.users.values()))
        lines = [
            "okta_bearer demo is running:",
            f"  SPA:      {spa_origin}/",
            f"  API docs: {api_base}/docs",
            f"  Issuer:   {dev.issuer}",
            f"  Sign in as {user.login} / {user.password}",
            "Press Ctrl-C to stop.",
        ]
        print("\n".join(lines), file=out, flush=True)

    return _run_servers(
        [
            _Served("dev issuer", dev, socks[0], "off"),
            _Served("API", api, socks[1], "on"),
            _Served("SPA", spa, socks[2], "off"),
        ],
        log_level=args.log_level,
        on_ready=ready,
    )


# -- parser ---------------------------------------------------------------------------------


_USER_HELP = (
    "a user who may sign in, as LOGIN:PASSWORD (repeatable); default: alice@example.com:wonderland"
)


def _add_issuer_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default=DEFAULT_HOST, help="address to listen on (%(default)s)")
    parser.add_argument(
        "--issuer-path", default=DEFAULT_PATH, help="path of the issuer URL (%(default)s)"
    )
    parser.add_argument(
        "--audience", default=DEFAULT_AUDIENCE, help="aud of access tokens (%(default)s)"
    )
    parser.add_argument(
        "--user", action="append", default=[], metavar="LOGIN:PASSWORD", help=_USER_HELP
    )
    parser.add_argument(
        "--scope",
        action="append",
        default=[],
        help="a custom scope to offer besides openid/profile/email (repeatable); "
        "default: items:read and items:write",
    )
    parser.add_argument(
        "--default-scope",
        action="append",
        default=[],
        help="granted when a request asks for no scope; then openid is not required (repeatable)",
    )
    parser.add_argument(
        "--keys-max-age",
        type=int,
        default=300,
        help="Cache-Control max-age of /v1/keys, seconds (%(default)s)",
    )
    parser.add_argument(
        "--log-level",
        default="warning",
        choices=["critical", "error", "warning", "info", "debug"],
        help="uvicorn log level (%(default)s; 'info' shows each request)",
    )


def build_parser() -> argparse.ArgumentParser:
    """The ``okta-bearer`` argument parser."""
    parser = argparse.ArgumentParser(
        prog="okta-bearer",
        description="Verify Okta / OpenID Connect access tokens, and run a local Okta-shaped "
        "issuer and demo.",
        epilog="Exit status: 0 ok, 1 token rejected or request failed, 2 usage error, "
        "3 issuer unreachable.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    verify = commands.add_parser(
        "verify",
        help="verify a token and print its claims",
        description="Verify TOKEN against the issuer's published keys and print its claims as "
        "JSON. On failure print the reason (RFC 6750 error, reason code, description) and exit 1.",
    )
    verify.add_argument("token", metavar="TOKEN", help="the access token, or - to read stdin")
    verify.add_argument(
        "--issuer", required=True, help="issuer URL, e.g. %(metavar)s", metavar="URL"
    )
    verify.add_argument(
        "--audience", required=True, action="append", help="accepted aud (repeatable)"
    )
    verify.add_argument(
        "--scope", action="append", default=[], help="a scope the token must hold (repeatable)"
    )
    verify.add_argument("--jwks-uri", help="keys URL (default: discovered from the issuer)")
    verify.add_argument("--algorithm", action="append", help="accepted alg (default RS256)")
    verify.add_argument("--leeway", type=float, default=30.0, help="clock skew, s (%(default)s)")
    verify.add_argument("--timeout", type=float, default=10.0, help="key fetch timeout, s")
    verify.set_defaults(handler=_cmd_verify)

    decode = commands.add_parser(
        "decode",
        help="show a token's header and claims, UNVERIFIED",
        description="Decode TOKEN's header and claims WITHOUT verifying anything; the output is "
        "marked UNVERIFIED.",
    )
    decode.add_argument("token", metavar="TOKEN", help="the token, or - to read stdin")
    decode.set_defaults(handler=_cmd_decode)

    mint = commands.add_parser(
        "mint",
        help="get a token from a running dev issuer (for curl)",
        description="Ask a running dev issuer (okta-bearer dev-issuer or demo) for an access "
        'token and print it: curl -H "Authorization: Bearer $(okta-bearer mint)" ...',
    )
    mint.add_argument("--issuer", default=DEFAULT_ISSUER, help="dev issuer URL (%(default)s)")
    mint.add_argument(
        "--scope", action="append", default=[], help="scope to grant (repeatable; default: "
        "openid items:read)",
    )  # fmt: skip
    who = mint.add_mutually_exclusive_group()
    who.add_argument("--user", help="login of a configured user (default: the first one)")
    who.add_argument(
        "--client-token", action="store_true", help="a token for the client itself, no user"
    )
    mint.add_argument("--client-id", help="registered client id (default: the first one)")
    mint.add_argument("--expires-in", type=int, help="lifetime in seconds (default 3600)")
    mint.add_argument("--json", action="store_true", help="print the whole token response")
    mint.add_argument("--timeout", type=float, default=10.0, help=argparse.SUPPRESS)
    mint.set_defaults(handler=_cmd_mint)

    rotate = commands.add_parser(
        "rotate",
        help="make a running dev issuer sign with a new key",
        description="Rotate the signing key of a running dev issuer. The previous key stays "
        "published unless --drop-old, so tokens it signed keep verifying.",
    )
    rotate.add_argument("--issuer", default=DEFAULT_ISSUER, help="dev issuer URL (%(default)s)")
    rotate.add_argument("--drop-old", action="store_true", help="unpublish the previous key")
    rotate.add_argument("--timeout", type=float, default=10.0, help=argparse.SUPPRESS)
    rotate.set_defaults(handler=_cmd_rotate)

    dev = commands.add_parser(
        "dev-issuer",
        help="serve an Okta-shaped authorization server on loopback",
        description="Serve the dev issuer: an Okta custom authorization server look-alike at "
        "http://HOST:PORT/oauth2/default with discovery, /v1/keys, /v1/authorize (implicit and "
        "code+PKCE) with a sign-in page, /v1/token, /v1/userinfo, and loopback-only "
        "/dev/mint and /dev/rotate. Default user: alice@example.com / wonderland.",
    )
    dev.add_argument("--port", type=int, default=DEFAULT_ISSUER_PORT, help="port (%(default)s)")
    dev.add_argument(
        "--client",
        action="append",
        default=[],
        metavar="ID=URI[,URI...]",
        help="a client and its exact redirect URIs (repeatable); default: "
        f"{DEMO_CLIENT_ID}=http://localhost:8080/,http://127.0.0.1:8080/",
    )
    dev.add_argument(
        "--rotate-every", type=float, metavar="SECONDS", help="rotate the signing key periodically"
    )
    _add_issuer_options(dev)
    dev.set_defaults(handler=_cmd_dev_issuer)

    demo = commands.add_parser(
        "demo",
        help="run dev issuer + example API + SPA on loopback",
        description="Start the dev issuer, the example FastAPI API (examples/api.py) and the "
        "single-page app (examples/spa/) in one process, print the SPA's URL, and stop all "
        "three on Ctrl-C. Sign in as alice@example.com / wonderland unless --user says "
        "otherwise. Port 0 picks a free port.",
    )
    demo.add_argument(
        "--issuer-port", type=int, default=DEFAULT_ISSUER_PORT, help="dev issuer (%(default)s)"
    )
    demo.add_argument("--api-port", type=int, default=DEFAULT_API_PORT, help="API (%(default)s)")
    demo.add_argument("--spa-port", type=int, default=DEFAULT_SPA_PORT, help="SPA (%(default)s)")
    _add_issuer_options(demo)
    demo.set_defaults(handler=_cmd_demo)
    return parser


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
