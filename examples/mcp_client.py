"""The official MCP client, signed in through the dev issuer, calling examples/mcp_server.py.

Run the server first (``pip install -e '.[mcp,dev]'``)::

    python examples/mcp_server.py      # dev issuer on :9400, MCP server on :9403
    python examples/mcp_client.py      # in another terminal
    python examples/mcp_client.py --add pear

The client is given nothing but the server URL.  Its first request is
refused with a 401 naming the server's RFC 9728 metadata; the metadata names
the authorization server; the client reads its RFC 8414 metadata, registers
itself (RFC 7591), and runs code + PKCE with ``resource`` set to the server
URL (RFC 8707), so the token it gets is for this server only.  The sign-in
page is the dev issuer's form, which this script fills in as the user
(``--user``/``--password``) instead of opening a browser.  ``--add NAME``
calls ``add_item``, which needs ``items:write``: the 403 names the scope and
the client signs in again asking for it.

Against a real authorization server, ``--browser`` opens your browser at its
sign-in page and listens for the redirect on ``http://127.0.0.1:8765/callback``
(``--callback-port``); ``--client-id`` uses a client registered beforehand
(Okta: a native app with PKCE and that redirect URI) instead of registering::

    python examples/mcp_client.py --url https://api.example/mcp --browser --client-id 0oa...
"""

from __future__ import annotations

import argparse
import asyncio
import webbrowser
from dataclasses import dataclass
from html.parser import HTMLParser
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx
import httpx2
from mcp import ClientSession
from mcp.client.auth import AuthorizationCodeResult, OAuthClientProvider
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import OAuthClientInformationFull, OAuthClientMetadata, OAuthToken
from mcp.types import TextContent
from pydantic import AnyUrl

#: Registered as the client's redirect URI; never contacted: the sign-in stops at the redirect.
REDIRECT_URI = "http://127.0.0.1:9/callback"


class SignInForm(HTMLParser):
    """The dev issuer's sign-in form: where it posts, and its hidden fields."""

    def __init__(self) -> None:
        super().__init__()
        self.action = ""
        self.fields: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = {name: value or "" for name, value in attrs}
        if tag == "form":
            self.action = found.get("action", "")
        elif tag == "input" and found.get("name"):
            self.fields[found["name"]] = found.get("value", "")


@dataclass
class ScriptedSignIn:
    """Plays the user at the dev issuer: opens the authorization URL, signs in, keeps the code."""

    browser: httpx.AsyncClient
    login: str
    password: str
    result: AuthorizationCodeResult | None = None

    async def redirect(self, authorization_url: str) -> None:
        """The client's redirect handler: what a browser would do with the URL."""
        response = await self.browser.get(authorization_url)
        if response.status_code == 200:  # the sign-in form: no session in this browser yet
            form = SignInForm()
            form.feed(response.text)
            fields = {"username": self.login, "password": self.password, "action": "sign-in"}
            response = await self.browser.post(
                urljoin(authorization_url, form.action), data=form.fields | fields
            )
        location = response.headers.get("location", "")
        query = parse_qs(urlsplit(location).query)
        if "code" not in query:
            raise SystemExit(
                f"sign-in failed ({response.status_code}): {location or response.text}"
            )
        self.result = AuthorizationCodeResult(
            code=query["code"][0], state=query["state"][0], iss=query.get("iss", [None])[0]
        )

    async def callback(self) -> AuthorizationCodeResult:
        """The client's callback handler: the code the redirect carried."""
        assert self.result is not None
        return self.result


class BrowserSignIn:
    """Opens the browser at the authorization URL; the redirect comes back to a loopback port."""

    def __init__(self, port: int) -> None:
        self.port = port
        self._result: asyncio.Future[AuthorizationCodeResult] | None = None
        self._server: asyncio.Server | None = None

    @property
    def redirect_uri(self) -> str:
        """Where the authorization server sends the browser back (RFC 8252 section 7.3)."""
        return f"http://127.0.0.1:{self.port}/callback"

    async def redirect(self, authorization_url: str) -> None:
        """Listen for the callback, then send the user to sign in."""
        self._result = asyncio.get_running_loop().create_future()
        if self._server is None:
            self._server = await asyncio.start_server(self._answer, "127.0.0.1", self.port)
        print(f"Opening your browser to sign in: {authorization_url}", flush=True)
        webbrowser.open(authorization_url)

    async def _answer(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        request_line = (await reader.readline()).decode("latin-1").split()
        query = parse_qs(urlsplit(request_line[1] if len(request_line) > 1 else "").query)
        body = b"Signed in: you can close this tab."
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\n")
        writer.write(b"content-length: %d\r\nconnection: close\r\n\r\n%s" % (len(body), body))
        await writer.drain()
        writer.close()
        await writer.wait_closed()
        if "code" in query and self._result is not None and not self._result.done():
            self._result.set_result(
                AuthorizationCodeResult(
                    code=query["code"][0],
                    state=query.get("state", [None])[0],
                    iss=query.get("iss", [None])[0],
                )
            )

    async def callback(self) -> AuthorizationCodeResult:
        """Wait for the browser to come back with the code."""
        assert self._result is not None
        return await self._result

    async def aclose(self) -> None:
        """Stop listening."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()


class MemoryStorage:
    """Where the client keeps its registration and tokens (in memory, for one run)."""

    def __init__(self, client_info: OAuthClientInformationFull | None = None) -> None:
        self.tokens: OAuthToken | None = None
        self.client_info = client_info

    async def get_tokens(self) -> OAuthToken | None:
        """The stored tokens."""
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken) -> None:
        """Keep new tokens."""
        self.tokens = tokens

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        """The stored registration."""
        return self.client_info

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        """Keep the registration."""
        self.client_info = client_info


async def run(
    url: str,
    login: str,
    password: str,
    add: str | None,
    *,
    browser_port: int | None = None,
    client_id: str | None = None,
) -> list[str]:
    """Connect to the MCP server at ``url``, list its tools, call them; the lines printed.

    ``browser_port``: sign in with the system browser, redirected back to that
    loopback port; ``None`` fills in the dev issuer's form as ``login``.
    ``client_id``: a client registered beforehand (public, PKCE) instead of
    dynamic registration.
    """
    lines: list[str] = []
    async with httpx.AsyncClient(timeout=30) as scripted_browser:
        sign_in: ScriptedSignIn | BrowserSignIn
        if browser_port is None:
            sign_in = ScriptedSignIn(scripted_browser, login, password)
            redirect_uri = REDIRECT_URI
        else:
            sign_in = BrowserSignIn(browser_port)
            redirect_uri = sign_in.redirect_uri
        registered = None
        if client_id is not None:
            registered = OAuthClientInformationFull(
                client_id=client_id,
                redirect_uris=[AnyUrl(redirect_uri)],
                token_endpoint_auth_method="none",  # noqa: S106 - a public client: no secret
            )
        provider = OAuthClientProvider(
            server_url=url,
            client_metadata=OAuthClientMetadata(
                client_name="okta_bearer example client", redirect_uris=[AnyUrl(redirect_uri)]
            ),
            storage=MemoryStorage(registered),
            redirect_handler=sign_in.redirect,
            callback_handler=sign_in.callback,
        )
        try:
            async with (
                httpx2.AsyncClient(auth=provider, timeout=30) as http,
                streamable_http_client(url, http_client=http) as (read, write),
                ClientSession(read, write) as session,
            ):
                await session.initialize()
                tools = await session.list_tools()
                lines.append("tools: " + ", ".join(sorted(t.name for t in tools.tools)))
                calls: list[tuple[str, dict[str, str]]] = [("list_items", {})]
                if add is not None:
                    calls = [("add_item", {"name": add}), *calls]
                for name, arguments in calls:
                    result = await session.call_tool(name, arguments)
                    texts = [c.text for c in result.content if isinstance(c, TextContent)]
                    lines.append(f"{name}: {' '.join(texts)}")
        finally:
            if isinstance(sign_in, BrowserSignIn):
                await sign_in.aclose()
    return lines


def main(argv: list[str] | None = None) -> None:
    """Parse the options, connect, print what the server answered."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument(
        "--url", default="http://127.0.0.1:9403/mcp", help="the MCP server (%(default)s)"
    )
    parser.add_argument("--user", default="alice@example.com", help="who signs in (%(default)s)")
    parser.add_argument("--password", default="wonderland", help="their password (%(default)s)")
    parser.add_argument("--add", metavar="NAME", help="also add an item (needs items:write)")
    parser.add_argument(
        "--browser", action="store_true", help="sign in with your browser instead of the form"
    )
    parser.add_argument(
        "--callback-port", type=int, default=8765, help="loopback port for --browser (%(default)s)"
    )
    parser.add_argument("--client-id", help="a client registered beforehand (no registration)")
    args = parser.parse_args(argv)
    port = args.callback_port if args.browser else None
    lines = asyncio.run(
        run(
            args.url,
            args.user,
            args.password,
            args.add,
            browser_port=port,
            client_id=args.client_id,
        )
    )
    for line in lines:
        print(line)


if __name__ == "__main__":
    main()
