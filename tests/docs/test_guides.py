"""The guides' shell steps, followed on free loopback ports: five minutes from zero.

Each test reads the commands a guide prints, checks they are the ones it
stands for, and does what they do with the guide's fixed ports (9400, 9403,
9404, 8000) swapped for free ones: the servers run in threads here
(tests/servers.py) and ``okta-bearer`` and the example client run their
``main()`` in this process, which spares a Python start-up each.  Covered: a
protected FastAPI (and Starlette) route answering a minted token; the
official MCP client reaching the example MCP server; an opaque token
accepted by introspection.  The guides' Python blocks run in
test_blocks.py, where the testing guide's own ``python -m pytest`` passes.
"""

from __future__ import annotations

import contextlib
import io
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urljoin

import httpx
import pytest
import redis

from okta_bearer._cli import load_example
from okta_bearer._cli import main as cli_main
from okta_bearer.dev_issuer import DevIssuer
from okta_bearer.metrics import PrometheusEvents
from okta_bearer.testing import LocalIssuer

from ..servers import free_port, loopback_socket, origin_of, serve
from ..store._server import RedisServer
from .blocks import DOCS, run_page

GUIDES = DOCS / "guides"


def shell_lines(page: Path) -> list[str]:
    """Every line of the page's ```sh blocks, continuation lines joined."""
    text = page.read_text()
    lines: list[str] = []
    for block in re.findall(r"^```sh\n(.*?)^```", text, flags=re.M | re.S):
        lines.extend(block.replace("\\\n", " ").splitlines())
    return [re.sub(r"\s+", " ", line).strip() for line in lines]


def command_of(line: str) -> str:
    """A shell line without its trailing ``# comment``."""
    return line.split("  #", 1)[0].split(" # ", 1)[0].strip()


def printed_output(page: Path, command: str) -> list[str]:
    """The ``# ...`` lines the guide shows right after ``command``: its expected output."""
    lines = shell_lines(page)
    start = [command_of(line) for line in lines].index(command) + 1
    output = []
    for line in lines[start:]:
        if not line.startswith("# "):
            break
        output.append(line[2:])
    return output


def okta_bearer(*args: str) -> str:
    """``okta-bearer ARGS`` (its ``main``, in this process to spare a start-up); its stdout."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = cli_main(list(args))
    assert status == 0, out.getvalue() + err.getvalue()
    return out.getvalue().strip()


def get(url: str, token: str | None = None) -> httpx.Response:
    """``curl [-H "Authorization: Bearer TOKEN"] URL``."""
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    return httpx.get(url, headers=headers, timeout=30, trust_env=False)


@pytest.fixture(scope="module")
def dev_issuer() -> Iterator[str]:
    """What ``okta-bearer dev-issuer`` serves, on a free port, shared by the module: its URL."""
    sock = loopback_socket()
    issuer = f"{origin_of(sock)}/oauth2/default"
    with serve(DevIssuer(LocalIssuer(issuer)), sock=sock):
        yield issuer


@pytest.mark.parametrize("guide", ["fastapi.md", "starlette.md"])
def test_a_protected_route_from_zero(
    guide: str, dev_issuer: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The guide's app.py, served, answers a minted token 200, none 401, a scope-less one 403."""
    page = GUIDES / guide
    commands = [command_of(line) for line in shell_lines(page)]
    assert "okta-bearer dev-issuer" in commands
    assert "uvicorn app:app --port 8000" in commands
    call = 'curl -H "Authorization: Bearer $(okta-bearer mint)" http://127.0.0.1:8000/items'
    assert call in commands
    monkeypatch.setenv("OKTA_ISSUER", dev_issuer)  # the dev issuer's free port, not 9400
    app = run_page(page, tmp_path).files["app"].app  # app.py, saved as the reader saves it
    with serve(app, lifespan="on") as api:
        items = f"{api.base_url}/items"
        ok = get(items, okta_bearer("mint", "--issuer", dev_issuer))
        anonymous = get(items)
        weak = get(items, okta_bearer("mint", "--issuer", dev_issuer, "--scope", "openid"))
    assert ok.status_code == 200, ok.text
    assert [ok.text] == printed_output(page, call)
    assert anonymous.status_code == 401
    assert weak.status_code == 403
    # Where the guide prints `curl -i` output, its status line and challenge are the real ones.
    shown = {
        "curl -i http://127.0.0.1:8000/items": anonymous,
        'curl -i -H "Authorization: Bearer $(okta-bearer mint --scope openid)" '
        "http://127.0.0.1:8000/items": weak,
    }
    for command, response in shown.items():
        if command in commands:
            status, challenge = printed_output(page, command)
            assert status.split()[1] == str(response.status_code)
            assert challenge == f"www-authenticate: {response.headers['www-authenticate']}"


def test_the_official_mcp_client_reaches_the_example_server() -> None:
    """examples/mcp_client.py against examples/mcp_server.py prints what the MCP guide shows."""
    page = GUIDES / "mcp.md"
    commands = [command_of(line) for line in shell_lines(page)]
    assert "python examples/mcp_server.py" in commands
    issuer_sock, mcp_sock = loopback_socket(), loopback_socket()
    dev, app = load_example("mcp_server").build(
        issuer_sock.getsockname()[1], mcp_sock.getsockname()[1]
    )
    client = load_example("mcp_client")
    runs = {}
    with serve(dev, sock=issuer_sock, lifespan="on"), serve(app, sock=mcp_sock, lifespan="on"):
        for command in (
            "python examples/mcp_client.py",
            "python examples/mcp_client.py --add pear",
        ):
            assert command in commands
            out = io.StringIO()
            with contextlib.redirect_stdout(out):
                client.main([*command.split()[2:], "--url", f"{origin_of(mcp_sock)}/mcp"])
            runs[command] = out.getvalue().splitlines()
    for command, printed in runs.items():
        expected = printed_output(page, command)
        assert expected
        assert [line for line in printed if line in expected] == expected, (command, printed)


def test_an_opaque_token_is_accepted_by_introspection(monkeypatch: pytest.MonkeyPatch) -> None:
    """The opaque tokens guide: its issuer, metrics_app, and a minted opaque token answered 200."""
    page = GUIDES / "opaque-tokens.md"
    commands = [command_of(line) for line in shell_lines(page)]
    assert "python examples/introspection_issuer.py" in commands
    assert "uvicorn metrics_app:app --app-dir examples --port 9404" in commands
    assert "TOKEN=$(okta-bearer mint --opaque)" in commands
    call = 'curl -H "Authorization: Bearer $TOKEN" http://127.0.0.1:9404/items'
    issuer_sock = loopback_socket()
    dev = load_example("introspection_issuer").create_issuer(issuer_sock.getsockname()[1])
    monkeypatch.setenv("OKTA_ISSUER", dev.issuer)  # metrics_app reads it, as under uvicorn
    example = load_example("metrics_app")
    events = PrometheusEvents()  # what `metrics_app:app` builds from the environment
    app = example.create_app(verifier=example.build_verifier(events), events=events)
    with serve(dev, sock=issuer_sock), serve(app, lifespan="on") as api:
        token = okta_bearer("mint", "--opaque", "--issuer", dev.issuer)
        ok = get(f"{api.base_url}/items", token)
        stranger = get(f"{api.base_url}/items", "not-a-token-the-issuer-made")
        metrics = get(f"{api.base_url}/metrics").text
        # The guide's revocation: the browser client the token was minted for revokes it.
        revoked = httpx.post(
            f"{dev.issuer}/v1/revoke",
            data={"client_id": "0oademospa0client0id", "token": token},
            trust_env=False,
        )
    revoke = 'curl -d client_id=0oademospa0client0id -d "token=$TOKEN" {}/v1/revoke'
    assert revoke.format("http://127.0.0.1:9400/oauth2/default") in commands
    assert revoked.status_code == 200, revoked.text
    assert "." not in token  # opaque: not a JWT
    assert ok.status_code == 200, ok.text
    assert [ok.text] == printed_output(page, call)
    assert stranger.status_code == 401
    assert re.search(
        r'okta_bearer_fetches_total\{[^}]*kind="introspection"[^}]*result="ok"', metrics
    )


def test_the_redis_guide_app_shares_its_keys_through_redis(
    dev_issuer: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The Redis guide's app.py, on a real redis-server, answers a minted token and fills Redis."""
    page = GUIDES / "redis.md"
    commands = [command_of(line) for line in shell_lines(page)]
    assert "uvicorn app:app --workers 4 --port 8000" in commands
    assert 'curl -H "Authorization: Bearer $(okta-bearer mint)" http://127.0.0.1:8000/items' in (
        commands
    )
    server = RedisServer(tmp_path)
    server.start()
    try:
        monkeypatch.setenv("REDIS_URL", server.url)
        monkeypatch.setenv("OKTA_ISSUER", dev_issuer)
        app = run_page(page, tmp_path).files["app"].app
        with serve(app, lifespan="on") as api:
            ok = get(f"{api.base_url}/items", okta_bearer("mint", "--issuer", dev_issuer))
        keys = redis.Redis.from_url(server.url).keys("*")
    finally:
        server.stop()
    assert ok.status_code == 200, ok.text
    assert keys  # the key set the whole fleet adopts


def _user_at_a_browser(url: str) -> None:
    """What a person does with the opened page: sign in, then follow the redirect home."""
    with httpx.Client(timeout=30, trust_env=False) as browser:
        page = browser.get(url)
        form = load_example("mcp_client").SignInForm()
        form.feed(page.text)
        fields = {"username": "alice@example.com", "password": "wonderland", "action": "sign-in"}
        answer = browser.post(urljoin(url, form.action), data=form.fields | fields)
        assert answer.status_code in (302, 303), answer.text
        assert browser.get(answer.headers["location"]).status_code == 200


def test_the_mcp_client_signs_in_with_a_browser(monkeypatch: pytest.MonkeyPatch) -> None:
    """With --browser the example client opens the sign-in page and takes the loopback redirect."""
    issuer_sock, mcp_sock = loopback_socket(), loopback_socket()
    dev, app = load_example("mcp_server").build(
        issuer_sock.getsockname()[1], mcp_sock.getsockname()[1]
    )
    client = load_example("mcp_client")
    opened: list[str] = []

    def open_browser(url: str) -> bool:
        opened.append(url)
        threading.Thread(target=_user_at_a_browser, args=(url,), daemon=True).start()
        return True

    monkeypatch.setattr(client.webbrowser, "open", open_browser)
    port, url, out = free_port(), f"{origin_of(mcp_sock)}/mcp", io.StringIO()
    with (
        serve(dev, sock=issuer_sock, lifespan="on"),
        serve(app, sock=mcp_sock, lifespan="on"),
        contextlib.redirect_stdout(out),
    ):
        client.main(["--url", url, "--browser", "--callback-port", str(port)])
    assert len(opened) == 1
    assert f"redirect_uri=http%3A%2F%2F127.0.0.1%3A{port}%2Fcallback" in opened[0]
    tools = "tools: add_item, list_items, remove_item"
    assert out.getvalue().splitlines()[-2:] == [tools, "list_items: apple"]
