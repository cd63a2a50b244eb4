"""What the dev issuer answers with: HTML pages, redirects, token errors; and form parsing."""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from ._models import AuthError, AuthRequest, DevClient, DevUser

NO_STORE = {"cache-control": "no-store", "pragma": "no-cache"}
MAX_FORM_BYTES = 64 * 1024
# CSS shared by the sign-in and error pages: plain, readable, no external assets.
_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:28rem;margin:3rem auto;padding:0 1rem}"
    "label{display:block;margin-top:1rem}input{width:100%;padding:.4rem;box-sizing:border-box}"
    "button{margin-top:1rem;padding:.5rem 1rem}.error{color:#a00;font-weight:bold}"
    "code{background:#eee;padding:0 .2rem}"
    ".hint{background:#eef6ee;border:1px solid #9c9;padding:.5rem 1rem;margin:1rem 0}"
)


def page(title: str, body: str, *, status: int = 200) -> HTMLResponse:
    """An HTML page that is never cached, framed or allowed to load anything external."""
    document = (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body>{body}</body></html>"
    )
    headers = {
        **NO_STORE,
        "x-frame-options": "DENY",
        "referrer-policy": "no-referrer",
        "content-security-policy": "default-src 'none'; style-src 'unsafe-inline'; "
        "form-action 'self' *; frame-ancestors 'none'",
    }
    return HTMLResponse(document, status_code=status, headers=headers)


def error_page(error: str, description: str) -> HTMLResponse:
    """The 400 page shown instead of redirecting to an untrusted client or redirect URI."""
    body = (
        f'<h1>Cannot sign in</h1><p class="error" role="alert" id="error">'
        f'<code>{html.escape(error)}</code></p><p id="error-description">'
        f"{html.escape(description)}</p>"
        "<p>The application's request was not sent back to it, because its client or "
        "redirect URI is not one this issuer knows.</p>"
    )
    return page("Error - okta_bearer dev issuer", body, status=400)


def home_page(issuer: str, clients: Iterable[DevClient]) -> HTMLResponse:
    """The issuer's root page: its URL, metadata link and registered clients."""
    rows = "".join(
        f"<li><code>{html.escape(c.client_id)}</code>: "
        + ", ".join(f"<code>{html.escape(u)}</code>" for u in c.redirect_uris)
        + "</li>"
        for c in clients
    )
    meta = html.escape(f"{issuer}/.well-known/openid-configuration")
    body = (
        f"<h1>okta_bearer dev issuer</h1><p>Issuer: <code>{html.escape(issuer)}</code></p>"
        f'<p>Metadata: <a href="{meta}">{meta}</a></p><h2>Clients</h2><ul>{rows}</ul>'
    )
    return page("okta_bearer dev issuer", body)


def _credentials(users: Iterable[DevUser]) -> str:
    rows = "".join(
        f"<li><code>{html.escape(u.login)}</code> / <code>{html.escape(u.password)}</code></li>"
        for u in users
    )
    if not rows:
        return ""
    return (
        '<aside id="credentials" class="hint"><strong>Development accounts</strong> '
        f"(shown because this is a local dev issuer):<ul>{rows}</ul></aside>"
    )


def sign_in_page(
    base_path: str,
    txn: str,
    auth: AuthRequest,
    *,
    error: str = "",
    username: str = "",
    users: Iterable[DevUser] = (),
) -> HTMLResponse:
    """The hosted sign-in form for transaction ``txn``; 401 when it repeats a failed attempt.

    ``users`` are listed with their passwords above the form (the demo's accounts).
    """
    alert = f'<p class="error" role="alert" id="error">{html.escape(error)}</p>' if error else ""
    scopes = " ".join(auth.scopes)
    body = f"""<h1>Sign in</h1>
<p>to <code>{html.escape(auth.client.client_id)}</code> at the okta_bearer dev issuer,
asking for <code>{html.escape(scopes)}</code>.</p>
{_credentials(users)}
{alert}
<form method="post" action="{html.escape(base_path)}/v1/login">
<input type="hidden" name="txn" value="{html.escape(txn)}">
<label for="username">Username</label>
<input id="username" name="username" autocomplete="username" autofocus
 value="{html.escape(username or auth.login_hint)}">
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password">
<button type="submit" id="sign-in" name="action" value="sign-in">Sign in</button>
<button type="submit" id="cancel" name="action" value="cancel">Cancel</button>
</form>"""
    return page("Sign in - okta_bearer dev issuer", body, status=401 if error else 200)


def redirect(uri: str, mode: str, params: Mapping[str, str | None], *, status: int) -> Response:
    """Send ``params`` (``None`` values left out) to ``uri`` in its query or fragment."""
    encoded = urlencode({k: v for k, v in params.items() if v is not None}, quote_via=quote)
    if mode == "query":
        location = f"{uri}{'&' if urlsplit(uri).query else '?'}{encoded}"
    else:
        location = f"{uri}#{encoded}"
    return RedirectResponse(location, status_code=status, headers=NO_STORE)


def error_redirect(
    uri: str, mode: str, error: AuthError, state: str | None, *, status: int
) -> Response:
    """Send an authorization error (RFC 6749 section 4.1.2.1) back to a trusted ``uri``."""
    params = {"error": error.error, "error_description": error.description, "state": state}
    return redirect(uri, mode, params, status=status)


def consent_page(base_path: str, txn: str, auth: AuthRequest, user: DevUser) -> HTMLResponse:
    """Ask ``user`` to approve a self-registered client, naming it and where it sends them."""
    client = auth.client
    name = html.escape(client.client_name or "(no name given)")
    scopes = " ".join(auth.scopes)
    target = html.escape(auth.redirect_uri)
    audience = ""
    if auth.resource:
        audience = f"<li>for the API <code>{html.escape(auth.resource)}</code></li>"
    body = f"""<h1>Allow access?</h1>
<p>You are signed in as <code>{html.escape(user.login)}</code>.  An application that
registered itself with this dev issuer asks to act for you:</p>
<ul>
<li>name (chosen by the application itself): <strong id="client-name">{name}</strong></li>
<li>client id: <code id="client-id">{html.escape(client.client_id)}</code></li>
<li>it will receive your token or code at <code id="redirect-uri">{target}</code>,
which is not on this machine</li>
<li>scopes: <code>{html.escape(scopes)}</code></li>
{audience}
</ul>
<p>Allow only if you started this and trust that address.</p>
<form method="post" action="{html.escape(base_path)}/v1/consent">
<input type="hidden" name="txn" value="{html.escape(txn)}">
<button type="submit" id="approve" name="action" value="approve">Allow</button>
<button type="submit" id="deny" name="action" value="deny">Deny</button>
</form>"""
    return page("Allow access? - okta_bearer dev issuer", body)


def token_error(error: str, description: str, *, status: int = 400) -> JSONResponse:
    """An OAuth 2.0 JSON error response (RFC 6749 section 5.2), never cached."""
    return JSONResponse(
        {"error": error, "error_description": description}, status_code=status, headers=NO_STORE
    )


async def read_form(request: Request, *, json_errors: bool = False) -> dict[str, str] | Response:
    """Parse an ``application/x-www-form-urlencoded`` body (no multipart dependency).

    Returns the fields, or the error response to send: 415 for another content
    type, 413 past 64 KiB, 400 for a body that is not UTF-8 or repeats a field;
    as JSON with ``json_errors``, else as an HTML page.
    """

    def fail(status: int, description: str) -> Response:
        if json_errors:
            return token_error("invalid_request", description, status=status)
        return page(
            "Error", f"<h1>Bad request</h1><p>{html.escape(description)}</p>", status=status
        )

    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/x-www-form-urlencoded":
        return fail(415, "Send the form as application/x-www-form-urlencoded.")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            return fail(413, "The form is too large.")
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
    except UnicodeDecodeError:
        return fail(400, "The form is not UTF-8.")
    form: dict[str, str] = {}
    for key, value in pairs:
        if key in form:
            return fail(400, f"Parameter repeated: {key}")
        form[key] = value
    return form
