"""``dev-issuer`` and ``demo``: build the dev issuer (and the examples) from options and serve."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import logging
import socket
from collections.abc import Callable, Coroutine, Sequence
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, TextIO

from ._common import DEFAULT_HOST, DEMO_CLIENT_ID, CLIError
from ._serve import Served, bind, run_servers, url_host

if TYPE_CHECKING:
    from ..dev_issuer import DevClient, DevIssuer


def _parse_clients(values: Sequence[str]) -> list[DevClient]:
    from ..dev_issuer import DevClient

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
    args: argparse.Namespace, port: int, clients: list[DevClient], extra_scopes: Sequence[str] = ()
) -> DevIssuer:
    from ..dev_issuer import DEFAULT_SCOPES, DevIssuer
    from ..testing import LocalIssuer

    issuer_url = f"http://{url_host(args.host)}:{port}{_check_path(args.issuer_path)}"
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
            show_credentials=True,  # a local dev tool: its start-up banner prints them too
        )
    except ValueError as exc:
        raise CLIError(str(exc)) from exc


def _rotation_job(
    dev: DevIssuer, every: float, out: TextIO
) -> Callable[[], Coroutine[Any, Any, None]]:
    async def rotate_forever() -> None:
        while True:
            await asyncio.sleep(every)
            kid = dev.rotate(keep_old=True)
            print(f"rotated: now signing with kid {kid}", file=out, flush=True)

    return rotate_forever


def cmd_dev_issuer(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Serve the dev issuer alone until Ctrl-C, optionally rotating its key."""
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
    return run_servers(
        [Served("dev issuer", dev, sock, "off")],
        log_level=args.log_level,
        on_ready=ready,
        background=jobs,
    )


def _with_localhost(*urls: str) -> list[str]:
    """``urls`` plus their ``localhost`` spelling, for people who type that instead of 127.0.0.1."""
    alias = f"http://{DEFAULT_HOST}:"
    return [*urls, *(u.replace(alias, "http://localhost:", 1) for u in urls if u.startswith(alias))]


def examples_dir() -> Path:
    """Where the example apps are: ``examples/`` in a checkout, package data in a wheel."""
    # Imported by name: in a checkout setuptools maps it onto examples/.
    package = importlib.import_module("okta_bearer._examples")
    assert package.__file__ is not None
    return Path(package.__file__).resolve().parent


def load_example(name: str) -> ModuleType:
    """Import the example ``name`` (``api``, ``spa_server``, ``starlette_app``)."""
    try:
        return importlib.import_module(f"okta_bearer._examples.{name}")
    except ImportError as exc:
        if exc.name and exc.name.startswith("okta_bearer"):
            raise
        raise CLIError(
            f"the demo needs {exc.name or 'a package'}: pip install 'okta-bearer[demo]'"
        ) from exc


def _show_refusals(out: TextIO) -> None:
    """Print the ``okta_bearer`` logger's INFO records (one per refused request) to ``out``."""
    handler = logging.StreamHandler(out)
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S"))
    log = logging.getLogger("okta_bearer")
    log.setLevel(logging.INFO)
    log.addHandler(handler)


def cmd_demo(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Serve the dev issuer, the example API and the SPA together until Ctrl-C."""
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
        host = url_host(args.host)
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
            "The API's refusals are shown below as they happen.",
            "Press Ctrl-C to stop.",
        ]
        print("\n".join(lines), file=out, flush=True)
        _show_refusals(out)

    return run_servers(
        [
            Served("dev issuer", dev, socks[0], "off"),
            Served("API", api, socks[1], "on"),
            Served("SPA", spa, socks[2], "off"),
        ],
        log_level=args.log_level,
        on_ready=ready,
    )
