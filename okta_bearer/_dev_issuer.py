"""The dev issuer: :class:`~okta_bearer.testing.LocalIssuer` served over HTTP.

One issuer model, two faces: the same ``LocalIssuer`` that mints tokens in a
test process answers, here, the requests a browser and an API make to an Okta
custom authorization server at ``{issuer}`` (``.../oauth2/default``):

=======================================  =========================================
``/.well-known/oauth-authorization-server``  RFC 8414 metadata
``/.well-known/openid-configuration``    the same, for OpenID Connect clients
``/v1/keys``                             JWKS, with ``Cache-Control: max-age``
``/v1/authorize``                        implicit (``token``, ``id_token``,
                                         ``id_token token``) and ``code`` + PKCE
``/v1/login``                            the hosted sign-in form posts here
``/v1/token``                            ``authorization_code`` grant (PKCE S256)
``/v1/userinfo``                         OpenID Connect UserInfo
``/v1/logout``                           ends the sign-in session
``/dev/mint``, ``/dev/rotate``           loopback-only admin: a token for curl,
                                         key rotation (JSON POST)
=======================================  =========================================

Authorization requests are checked in RFC 6749 order: an unknown ``client_id``
or an unregistered ``redirect_uri`` is answered with an error page and never
redirected to (section 4.2.2.1); every later error is sent back to the client
in the fragment (``query`` for ``code``), with ``state`` echoed.  It is a
development tool: state lives in memory, passwords are plain configuration, and
plain ``http`` is expected on loopback.
"""

from __future__ import annotations

import base64
import hashlib
import html
import ipaddress
import json
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

import httpx
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from ._errors import BearerError, InvalidRequest, MissingToken
from ._rfc6750 import challenge, parse_authorization
from ._verifier import TokenVerifier
from .testing import OMIT, LocalIssuer

__all__ = [
    "DEFAULT_CLIENT_ID",
    "DEFAULT_SCOPES",
    "DEFAULT_USERS",
    "DevClient",
    "DevIssuer",
    "DevUser",
]

#: Client id registered when none is configured.
DEFAULT_CLIENT_ID = "0oadevspa0client0id"
#: Custom scopes offered besides the OpenID Connect ones.
DEFAULT_SCOPES = ("items:read", "items:write")
#: The demo user, when none is configured: ``alice@example.com`` / ``wonderland``.
DEFAULT_USERS: tuple[tuple[str, str], ...] = (("alice@example.com", "wonderland"),)

_OIDC_SCOPES = ("openid", "profile", "email", "offline_access")
_RESPONSE_TYPES = {
    frozenset({"token"}),
    frozenset({"id_token"}),
    frozenset({"id_token", "token"}),
    frozenset({"code"}),
}
_PROMPTS = frozenset({"none", "login", "consent"})
_MAX_FORM_BYTES = 64 * 1024
_MAX_PENDING = 10_000
_NO_STORE = {"cache-control": "no-store", "pragma": "no-cache"}
# CSS shared by the sign-in and error pages: plain, readable, no external assets.
_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:28rem;margin:3rem auto;padding:0 1rem}"
    "label{display:block;margin-top:1rem}input{width:100%;padding:.4rem;box-sizing:border-box}"
    "button{margin-top:1rem;padding:.5rem 1rem}.error{color:#a00;font-weight:bold}"
    "code{background:#eee;padding:0 .2rem}"
)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _is_loopback_client(request: Request) -> bool:
    host = request.client.host if request.client else ""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class DevClient:
    """A registered OAuth client: its id and the exact redirect URIs it may use."""

    client_id: str
    redirect_uris: tuple[str, ...]

    @property
    def origins(self) -> tuple[str, ...]:
        """Browser origins of the redirect URIs (allowed by CORS, like Okta's trusted origins)."""
        found: list[str] = []
        for uri in self.redirect_uris:
            parts = urlsplit(uri)
            if parts.scheme in ("http", "https") and parts.netloc:
                origin = f"{parts.scheme}://{parts.netloc}"
                if origin not in found:
                    found.append(origin)
        return tuple(found)


@dataclass(frozen=True)
class DevUser:
    """A user who can sign in: ``login`` (an email, as Okta) and ``password``.

    ``uid`` (Okta's ``00u...`` user id) and ``name`` are derived when left empty.
    """

    login: str
    password: str
    name: str = ""
    uid: str = ""

    def __post_init__(self) -> None:
        if not self.uid:
            digest = hashlib.sha256(self.login.encode()).hexdigest()[:17]
            object.__setattr__(self, "uid", f"00u{digest}")
        if not self.name:
            local = self.login.split("@", 1)[0]
            object.__setattr__(self, "name", local.replace(".", " ").title())


@dataclass
class _Session:
    user: DevUser
    auth_time: int
    expires_at: float


@dataclass(frozen=True)
class _AuthRequest:
    """A checked authorization request, waiting for a signed-in user."""

    client: DevClient
    redirect_uri: str
    response_types: frozenset[str]
    response_mode: str
    scopes: tuple[str, ...]
    state: str | None
    nonce: str | None
    code_challenge: str | None
    prompt: frozenset[str]
    login_hint: str


@dataclass
class _CodeGrant:
    request: _AuthRequest
    user: DevUser
    auth_time: int
    expires_at: float


@dataclass(frozen=True)
class _Pending:
    request: _AuthRequest
    expires_at: float


class _AuthError(Exception):
    """An authorization error sent back to the client's redirect URI."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(error)
        self.error = error
        self.description = description


@dataclass
class _Store:
    sessions: dict[str, _Session] = field(default_factory=dict)
    pending: dict[str, _Pending] = field(default_factory=dict)
    codes: dict[str, _CodeGrant] = field(default_factory=dict)

    def prune(self, now: float) -> None:
        for table in (self.sessions, self.pending, self.codes):
            expired = [k for k, v in table.items() if v.expires_at <= now]
            for key in expired:
                del table[key]


class DevIssuer:
    """An Okta-shaped authorization server for one machine, as an ASGI app.

    Args:
        issuer: the :class:`LocalIssuer` whose keys sign every token; its
            ``issuer`` URL (e.g. ``http://127.0.0.1:9400/oauth2/default``)
            decides where the endpoints are served and its ``audience`` is the
            ``aud`` of access tokens.
        clients: registered clients; defaults to :data:`DEFAULT_CLIENT_ID` with
            no redirect URI (so pass your own).
        users: who may sign in, as :class:`DevUser` or ``{login: password}``;
            defaults to :data:`DEFAULT_USERS`.
        scopes: custom scopes the server offers besides ``openid``,
            ``profile``, ``email`` and ``offline_access``.
        default_scopes: granted when a request asks for none; with any
            configured, ``openid`` is no longer required (as Okta's default scope).
        token_lifetime: seconds an access or ID token lives (``expires_in``).
        code_lifetime: seconds an authorization code can be redeemed.
        session_lifetime: seconds a sign-in session lasts.
        cookie_name: the session cookie's name.

    Use it as an ASGI app (``uvicorn.run(DevIssuer(...))``) or in tests with
    ``httpx.ASGITransport(app=dev_issuer)``.
    """

    def __init__(
        self,
        issuer: LocalIssuer,
        *,
        clients: Iterable[DevClient] = (),
        users: Iterable[DevUser] | Mapping[str, str] | None = None,
        scopes: Iterable[str] | None = None,
        default_scopes: Iterable[str] = (),
        token_lifetime: int = 3600,
        code_lifetime: int = 300,
        session_lifetime: int = 8 * 3600,
        cookie_name: str = "okta_bearer_dev_sid",
    ) -> None:
        self.local = issuer
        clients = tuple(clients) or (DevClient(DEFAULT_CLIENT_ID, ()),)
        self.clients: dict[str, DevClient] = {c.client_id: c for c in clients}
        if users is None:
            users = dict(DEFAULT_USERS)
        if isinstance(users, Mapping):
            users = [DevUser(login, password) for login, password in users.items()]
        self.users: dict[str, DevUser] = {u.login.lower(): u for u in users}
        custom = tuple(DEFAULT_SCOPES if scopes is None else scopes)
        self.scopes: tuple[str, ...] = tuple(dict.fromkeys((*_OIDC_SCOPES, *custom)))
        self.default_scopes = tuple(default_scopes)
        unknown = [s for s in self.default_scopes if s not in self.scopes]
        if unknown:
            raise ValueError(f"default_scopes not offered by the server: {unknown}")
        self.token_lifetime = token_lifetime
        self.code_lifetime = code_lifetime
        self.session_lifetime = session_lifetime
        self.cookie_name = cookie_name
        self._store = _Store()
        self.base_path = urlsplit(issuer.issuer).path.rstrip("/")
        base = self.base_path
        routes = [
            Route("/", self._home, methods=["GET"]),
            Route(f"{base}/.well-known/oauth-authorization-server", self._metadata),
            Route(f"{base}/.well-known/openid-configuration", self._metadata),
            Route(f"{base}/v1/keys", self._keys, methods=["GET"]),
            Route(f"{base}/v1/authorize", self._authorize, methods=["GET"]),
            Route(f"{base}/v1/login", self._login, methods=["POST"]),
            Route(f"{base}/v1/token", self._token, methods=["POST"]),
            Route(f"{base}/v1/userinfo", self._userinfo, methods=["GET", "POST"]),
            Route(f"{base}/v1/logout", self._logout, methods=["GET"]),
            Route(f"{base}/dev/mint", self._admin_mint, methods=["POST"]),
            Route(f"{base}/dev/rotate", self._admin_rotate, methods=["POST"]),
        ]
        origins = sorted({o for c in self.clients.values() for o in c.origins})
        cors = Middleware(
            CORSMiddleware,
            allow_origins=origins,
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type"],
        )
        self.app = Starlette(routes=routes, middleware=[cors])

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)

    # -- public helpers ---------------------------------------------------------

    @property
    def issuer(self) -> str:
        """The issuer URL tokens carry."""
        return self.local.issuer

    def rotate(self, *, keep_old: bool = True) -> str:
        """Start signing with a new key; returns its ``kid``.

        With ``keep_old`` the previous key stays published (only the newest
        two are kept), so tokens it signed still verify; without it they fail.
        """
        key = self.local.rotate(keep_old=keep_old)
        self.local.keys = self.local.keys[-2:]
        return key.kid

    def issue_access_token(
        self,
        user: DevUser | None,
        client_id: str,
        scopes: Iterable[str],
        *,
        auth_time: int | None = None,
        lifetime: int | None = None,
    ) -> str:
        """Mint an Okta-shaped access token for ``user`` (or the client itself when ``None``)."""
        now = int(self.local.clock())
        claims: dict[str, Any] = {
            "cid": client_id,
            "scp": list(scopes),
            "iat": now,
            "exp": now + (lifetime or self.token_lifetime),
        }
        if user is None:
            # A client-credentials shaped token: Okta sets sub to the client id.
            claims.update(sub=client_id, uid=OMIT, auth_time=OMIT)
        else:
            claims.update(sub=user.login, uid=user.uid, auth_time=auth_time or now)
        return self.local.mint(**claims)

    # -- discovery and keys -----------------------------------------------------

    async def _home(self, request: Request) -> Response:
        rows = "".join(
            f"<li><code>{html.escape(c.client_id)}</code>: "
            + ", ".join(f"<code>{html.escape(u)}</code>" for u in c.redirect_uris)
            + "</li>"
            for c in self.clients.values()
        )
        meta = html.escape(f"{self.issuer}/.well-known/openid-configuration")
        body = (
            f"<h1>okta_bearer dev issuer</h1><p>Issuer: <code>{html.escape(self.issuer)}</code></p>"
            f'<p>Metadata: <a href="{meta}">{meta}</a></p><h2>Clients</h2><ul>{rows}</ul>'
        )
        return _page("okta_bearer dev issuer", body)

    async def _metadata(self, request: Request) -> Response:
        meta = self.local.metadata()
        meta.update(
            scopes_supported=list(self.scopes),
            response_modes_supported=["query", "fragment"],
            token_endpoint_auth_methods_supported=["none"],
            end_session_endpoint=f"{self.issuer}/v1/logout",
            claims_supported=[
                "iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "at_hash",
                "name", "preferred_username", "email", "email_verified",
            ],
        )  # fmt: skip
        return JSONResponse(meta)

    async def _keys(self, request: Request) -> Response:
        headers = {"cache-control": f"max-age={self.local.keys_max_age}, must-revalidate"}
        return JSONResponse(self.local.jwks(), headers=headers)

    # -- /v1/authorize ----------------------------------------------------------

    async def _authorize(self, request: Request) -> Response:
        pairs = parse_qsl(request.url.query, keep_blank_values=True)
        params: dict[str, list[str]] = {}
        for key, value in pairs:
            params.setdefault(key, []).append(value)
        # Steps 1 and 2 (RFC 6749 4.1.2.1 / 4.2.2.1): without a trustworthy
        # client and redirect URI the user is told, and nothing is redirected.
        client_ids = params.get("client_id", [])
        if len(client_ids) != 1 or not client_ids[0]:
            return _error_page("invalid_request", "The request needs exactly one client_id.")
        client = self.clients.get(client_ids[0])
        if client is None:
            return _error_page(
                "invalid_client",
                f"The client_id {client_ids[0]!r} is not registered with this dev issuer.",
            )
        redirects = params.get("redirect_uri", [])
        if len(redirects) != 1 or redirects[0] not in client.redirect_uris:
            shown = redirects[0] if len(redirects) == 1 else "(missing or repeated)"
            return _error_page(
                "invalid_request",
                f"The redirect_uri {shown!r} is not registered for client {client.client_id!r}. "
                "Registered: " + (", ".join(client.redirect_uris) or "none") + ".",
            )
        redirect_uri = redirects[0]
        states = params.get("state", [])
        state = states[0] if len(states) == 1 else None
        mode = "query" if params.get("response_type") == ["code"] else "fragment"
        try:
            auth = self._check(client, redirect_uri, params)
            mode = auth.response_mode
            session = self._session(request)
            if "none" in auth.prompt and session is None:
                raise _AuthError("login_required", "The user is not signed in.")
            if session is None or "login" in auth.prompt:
                return self._sign_in_form(self._remember(auth), auth)
            return self._complete(auth, session.user, session.auth_time, status=302)
        except _AuthError as error:
            return _redirect(
                redirect_uri,
                mode,
                {"error": error.error, "error_description": error.description, "state": state},
                status=302,
            )

    def _check(
        self, client: DevClient, redirect_uri: str, params: dict[str, list[str]]
    ) -> _AuthRequest:
        repeated = sorted(k for k, v in params.items() if len(v) > 1)
        if repeated:
            raise _AuthError("invalid_request", f"Parameter repeated: {repeated[0]}")
        one = {k: v[0] for k, v in params.items()}
        if not one.get("response_type"):
            raise _AuthError("invalid_request", "The response_type parameter is missing.")
        response_types = frozenset(one["response_type"].split())
        if response_types not in _RESPONSE_TYPES:
            raise _AuthError(
                "unsupported_response_type",
                "Supported: code, token, id_token and 'id_token token'.",
            )
        is_code = response_types == {"code"}
        mode = one.get("response_mode") or ("query" if is_code else "fragment")
        # Tokens never go in a query string (OAuth 2.0 Multiple Response Types, section 5).
        if mode not in ("query", "fragment") or (mode == "query" and not is_code):
            raise _AuthError(
                "invalid_request", f"Unsupported response_mode for this request: {mode}"
            )
        requested = tuple(dict.fromkeys(one.get("scope", "").split()))
        unknown = [s for s in requested if s not in self.scopes]
        if unknown:
            raise _AuthError("invalid_scope", f"The scope is not offered: {unknown[0]}")
        scopes = requested or self.default_scopes
        if not scopes:
            raise _AuthError(
                "invalid_scope",
                "Request the openid scope or configure a default scope on the server.",
            )
        if "openid" not in scopes and not self.default_scopes:
            raise _AuthError(
                "invalid_scope",
                "The openid scope is required (no default scope is configured).",
            )
        wants_id_token = "id_token" in response_types
        if wants_id_token and "openid" not in scopes:
            raise _AuthError("invalid_scope", "An ID token needs the openid scope.")
        nonce = one.get("nonce") or None
        if wants_id_token and nonce is None:
            raise _AuthError("invalid_request", "A nonce is required when an ID token is returned.")
        challenge_value = one.get("code_challenge") or None
        if is_code:
            if challenge_value is None:
                raise _AuthError("invalid_request", "PKCE is required: send a code_challenge.")
            if one.get("code_challenge_method") != "S256":
                raise _AuthError("invalid_request", "The code_challenge_method must be S256.")
            if not 43 <= len(challenge_value) <= 128:
                raise _AuthError("invalid_request", "The code_challenge is malformed.")
        prompt = frozenset(one.get("prompt", "").split())
        if not prompt <= _PROMPTS or ("none" in prompt and len(prompt) > 1):
            raise _AuthError("invalid_request", "Unsupported prompt value.")
        return _AuthRequest(
            client=client,
            redirect_uri=redirect_uri,
            response_types=response_types,
            response_mode=mode,
            scopes=scopes,
            state=one.get("state"),
            nonce=nonce,
            code_challenge=challenge_value,
            prompt=prompt,
            login_hint=one.get("login_hint", ""),
        )

    def _session(self, request: Request) -> _Session | None:
        sid = request.cookies.get(self.cookie_name)
        if not sid:
            return None
        session = self._store.sessions.get(sid)
        if session is None or session.expires_at <= self.local.clock():
            return None
        return session

    def _remember(self, auth: _AuthRequest) -> str:
        now = self.local.clock()
        self._store.prune(now)
        if len(self._store.pending) >= _MAX_PENDING:
            self._store.pending.pop(next(iter(self._store.pending)))
        txn = secrets.token_urlsafe(24)
        self._store.pending[txn] = _Pending(auth, now + 600)
        return txn

    def _sign_in_form(
        self, txn: str, auth: _AuthRequest, *, error: str = "", username: str = ""
    ) -> Response:
        alert = (
            f'<p class="error" role="alert" id="error">{html.escape(error)}</p>' if error else ""
        )
        scopes = " ".join(auth.scopes)
        body = f"""<h1>Sign in</h1>
<p>to <code>{html.escape(auth.client.client_id)}</code> at the okta_bearer dev issuer,
asking for <code>{html.escape(scopes)}</code>.</p>
{alert}
<form method="post" action="{html.escape(self.base_path)}/v1/login">
<input type="hidden" name="txn" value="{html.escape(txn)}">
<label for="username">Username</label>
<input id="username" name="username" autocomplete="username" autofocus
 value="{html.escape(username or auth.login_hint)}">
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password">
<button type="submit" id="sign-in" name="action" value="sign-in">Sign in</button>
<button type="submit" id="cancel" name="action" value="cancel">Cancel</button>
</form>"""
        return _page("Sign in - okta_bearer dev issuer", body, status=401 if error else 200)

    # -- sign-in ------------------------------------------------------------

    async def _login(self, request: Request) -> Response:
        form = await _read_form(request)
        if isinstance(form, Response):
            return form
        txn = form.get("txn", "")
        pending = self._store.pending.get(txn)
        if pending is None or pending.expires_at <= self.local.clock():
            return _error_page(
                "invalid_request",
                "This sign-in attempt has expired or is unknown. Start again from the app.",
            )
        auth = pending.request
        if form.get("action") == "cancel":
            del self._store.pending[txn]
            return _redirect(
                auth.redirect_uri,
                auth.response_mode,
                {
                    "error": "access_denied",
                    "error_description": "The user cancelled the sign-in.",
                    "state": auth.state,
                },
                status=303,
            )
        username = form.get("username", "")
        user = self.users.get(username.lower())
        password = form.get("password", "")
        if user is None or not secrets.compare_digest(user.password.encode(), password.encode()):
            return self._sign_in_form(
                txn, auth, error="Sign-in failed: wrong username or password.", username=username
            )
        del self._store.pending[txn]
        now = self.local.clock()
        sid = secrets.token_urlsafe(32)
        self._store.sessions[sid] = _Session(user, int(now), now + self.session_lifetime)
        response = self._complete(auth, user, int(now), status=303)
        response.set_cookie(
            self.cookie_name,
            sid,
            max_age=self.session_lifetime,
            path="/",
            httponly=True,
            samesite="lax",
            secure=urlsplit(self.issuer).scheme == "https",
        )
        return response

    def _complete(
        self, auth: _AuthRequest, user: DevUser, auth_time: int, *, status: int
    ) -> Response:
        """Answer a signed-in authorization request with tokens or a code."""
        params: dict[str, str | None] = {}
        if "code" in auth.response_types:
            now = self.local.clock()
            self._store.prune(now)
            code = secrets.token_urlsafe(32)
            self._store.codes[code] = _CodeGrant(auth, user, auth_time, now + self.code_lifetime)
            params["code"] = code
        access_token = None
        if "token" in auth.response_types:
            access_token = self.issue_access_token(
                user, auth.client.client_id, auth.scopes, auth_time=auth_time
            )
            params["access_token"] = access_token
            params["token_type"] = "Bearer"  # noqa: S105 - the RFC 6750 token type, not a secret
            params["expires_in"] = str(self.token_lifetime)
            params["scope"] = " ".join(auth.scopes)
        if "id_token" in auth.response_types:
            params["id_token"] = self._id_token(auth, user, auth_time, access_token)
        params["state"] = auth.state
        return _redirect(auth.redirect_uri, auth.response_mode, params, status=status)

    def _id_token(
        self, auth: _AuthRequest, user: DevUser, auth_time: int, access_token: str | None
    ) -> str:
        now = int(self.local.clock())
        claims: dict[str, Any] = {
            "aud": auth.client.client_id,
            "sub": user.uid,
            "iat": now,
            "exp": now + self.token_lifetime,
            "auth_time": auth_time,
        }
        if "profile" in auth.scopes:
            claims.update(name=user.name, preferred_username=user.login)
        if "email" in auth.scopes:
            claims.update(email=user.login, email_verified=True)
        if access_token is not None:
            # OpenID Connect Core 3.2.2.10: left half of SHA-256 of the access token.
            digest = hashlib.sha256(access_token.encode("ascii")).digest()
            claims["at_hash"] = _b64url(digest[:16])
        return self.local.mint_id_token(nonce=auth.nonce, **claims)

    async def _logout(self, request: Request) -> Response:
        sid = request.cookies.get(self.cookie_name)
        if sid:
            self._store.sessions.pop(sid, None)
        target = request.query_params.get("post_logout_redirect_uri")
        registered = {u for c in self.clients.values() for u in c.redirect_uris}
        response: Response
        if target and target in registered:
            state = request.query_params.get("state")
            suffix = "?" + urlencode({"state": state}) if state else ""
            response = RedirectResponse(target + suffix, status_code=302)
        else:
            response = _page("Signed out", "<h1>Signed out</h1>")
        response.delete_cookie(self.cookie_name, path="/")
        return response

    # -- /v1/token ----------------------------------------------------------

    async def _token(self, request: Request) -> Response:
        form = await _read_form(request, json_errors=True)
        if isinstance(form, Response):
            return form
        grant_type = form.get("grant_type")
        if not grant_type:
            return _token_error("invalid_request", "The grant_type parameter is missing.")
        if grant_type != "authorization_code":
            return _token_error("unsupported_grant_type", "Only authorization_code is supported.")
        missing = [
            p for p in ("code", "redirect_uri", "client_id", "code_verifier") if not form.get(p)
        ]
        if missing:
            return _token_error("invalid_request", f"The {missing[0]} parameter is missing.")
        client = self.clients.get(form["client_id"])
        if client is None:
            return _token_error("invalid_client", "The client is not registered.", status=401)
        # A code is redeemable once, whatever the outcome (RFC 6749 4.1.2).
        grant = self._store.codes.pop(form["code"], None)
        if grant is None or grant.expires_at <= self.local.clock():
            return _token_error("invalid_grant", "The authorization code is invalid or expired.")
        auth = grant.request
        if auth.client.client_id != client.client_id:
            return _token_error("invalid_grant", "The code was issued to another client.")
        if auth.redirect_uri != form["redirect_uri"]:
            return _token_error("invalid_grant", "The redirect_uri does not match the request.")
        verifier = form["code_verifier"]
        expected = _b64url(hashlib.sha256(verifier.encode("ascii", "replace")).digest())
        if not (43 <= len(verifier) <= 128) or not secrets.compare_digest(
            expected, auth.code_challenge or ""
        ):
            return _token_error("invalid_grant", "PKCE verification of the code_verifier failed.")
        access_token = self.issue_access_token(
            grant.user, client.client_id, auth.scopes, auth_time=grant.auth_time
        )
        body: dict[str, Any] = {
            "token_type": "Bearer",
            "expires_in": self.token_lifetime,
            "access_token": access_token,
            "scope": " ".join(auth.scopes),
        }
        if "openid" in auth.scopes:
            body["id_token"] = self._id_token(auth, grant.user, grant.auth_time, access_token)
        return JSONResponse(body, headers=_NO_STORE)

    # -- /v1/userinfo -------------------------------------------------------

    async def _userinfo(self, request: Request) -> Response:
        try:
            raw = [v for k, v in request.scope["headers"] if k == b"authorization"]
            token = parse_authorization(raw)
            if token is None:
                raise MissingToken()
            jwks = self.local.jwks()
            transport = httpx.MockTransport(lambda _: httpx.Response(200, json=jwks))
            async with (
                httpx.AsyncClient(transport=transport) as client,
                TokenVerifier(
                    self.issuer,
                    self.local.audience,
                    jwks_uri=f"{self.issuer}/v1/keys",
                    algorithms=(self.local.algorithm,),
                    http_client=client,
                    token_cache_size=0,
                    clock=self.local.clock,
                ) as verifier,
            ):
                claims = await verifier.verify(token, ("openid",))
        except BearerError as error:
            status = error.status if error.status != 503 else 401
            headers = {"www-authenticate": challenge(error, realm=None)} | _NO_STORE
            body = {"error": error.error, "error_description": error.description}
            if isinstance(error, (MissingToken, InvalidRequest)) and error.error is None:
                body = {"error": "invalid_request", "error_description": error.description}
            return JSONResponse(body, status_code=status, headers=headers)
        user = next((u for u in self.users.values() if u.uid == claims.uid), None)
        if user is None:
            return JSONResponse({"sub": claims.sub}, headers=_NO_STORE)
        info: dict[str, Any] = {"sub": user.uid}
        if "profile" in claims.scopes:
            info.update(name=user.name, preferred_username=user.login)
        if "email" in claims.scopes:
            info.update(email=user.login, email_verified=True)
        return JSONResponse(info, headers=_NO_STORE)

    # -- loopback-only admin --------------------------------------------------

    async def _admin_body(self, request: Request) -> dict[str, Any] | Response:
        # Loopback only, and JSON only: a web page cannot send a JSON POST to
        # another origin without a CORS preflight, which this route never allows.
        if not _is_loopback_client(request):
            return JSONResponse({"error": "forbidden", "error_description": "Loopback only."}, 403)
        if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
            return JSONResponse(
                {"error": "invalid_request", "error_description": "Send application/json."}, 415
            )
        raw = await request.body()
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return JSONResponse(
                {"error": "invalid_request", "error_description": "Body must be a JSON object."},
                400,
            )
        return body

    async def _admin_mint(self, request: Request) -> Response:
        body = await self._admin_body(request)
        if isinstance(body, Response):
            return body
        scopes = body.get("scopes", list(DEFAULT_SCOPES[:1]))
        client_id = body.get("client_id", next(iter(self.clients)))
        login = body.get("user", next(iter(self.users.values())).login if self.users else None)
        lifetime = body.get("expires_in", self.token_lifetime)
        problems = []
        if not isinstance(scopes, list) or not all(isinstance(s, str) for s in scopes):
            problems.append("scopes must be a list of strings")
        elif any(s not in self.scopes for s in scopes):
            problems.append("scopes must be offered by the server")
        if not isinstance(client_id, str) or client_id not in self.clients:
            problems.append("client_id must be a registered client")
        if login is not None and (not isinstance(login, str) or login.lower() not in self.users):
            problems.append("user must be a configured user's login, or null for a client token")
        if (
            isinstance(lifetime, bool)
            or not isinstance(lifetime, int)
            or not 1 <= lifetime <= 86400
        ):
            problems.append("expires_in must be an integer between 1 and 86400")
        if problems:
            return JSONResponse(
                {"error": "invalid_request", "error_description": "; ".join(problems)}, 400
            )
        user = self.users[login.lower()] if isinstance(login, str) else None
        token = self.issue_access_token(user, client_id, scopes, lifetime=lifetime)
        return JSONResponse(
            {
                "access_token": token,
                "token_type": "Bearer",
                "expires_in": lifetime,
                "scope": " ".join(scopes),
            },
            headers=_NO_STORE,
        )

    async def _admin_rotate(self, request: Request) -> Response:
        body = await self._admin_body(request)
        if isinstance(body, Response):
            return body
        keep_old = body.get("keep_old", True)
        if not isinstance(keep_old, bool):
            return JSONResponse(
                {"error": "invalid_request", "error_description": "keep_old must be a boolean"},
                400,
            )
        kid = self.rotate(keep_old=keep_old)
        return JSONResponse({"kid": kid, "kids": [k.kid for k in self.local.keys]})


# -- small pure helpers ---------------------------------------------------------


def _page(title: str, body: str, *, status: int = 200) -> HTMLResponse:
    document = (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body>{body}</body></html>"
    )
    headers = {
        **_NO_STORE,
        "x-frame-options": "DENY",
        "referrer-policy": "no-referrer",
        "content-security-policy": "default-src 'none'; style-src 'unsafe-inline'; "
        "form-action 'self' *; frame-ancestors 'none'",
    }
    return HTMLResponse(document, status_code=status, headers=headers)


def _error_page(error: str, description: str) -> HTMLResponse:
    body = (
        f'<h1>Cannot sign in</h1><p class="error" role="alert" id="error">'
        f'<code>{html.escape(error)}</code></p><p id="error-description">'
        f"{html.escape(description)}</p>"
        "<p>The application's request was not sent back to it, because its client or "
        "redirect URI is not one this issuer knows.</p>"
    )
    return _page("Error - okta_bearer dev issuer", body, status=400)


def _redirect(uri: str, mode: str, params: Mapping[str, str | None], *, status: int) -> Response:
    encoded = urlencode({k: v for k, v in params.items() if v is not None}, quote_via=quote)
    if mode == "query":
        location = f"{uri}{'&' if urlsplit(uri).query else '?'}{encoded}"
    else:
        location = f"{uri}#{encoded}"
    return RedirectResponse(location, status_code=status, headers=_NO_STORE)


def _token_error(error: str, description: str, *, status: int = 400) -> JSONResponse:
    return JSONResponse(
        {"error": error, "error_description": description}, status_code=status, headers=_NO_STORE
    )


async def _read_form(request: Request, *, json_errors: bool = False) -> dict[str, str] | Response:
    """Parse an ``application/x-www-form-urlencoded`` body (no multipart dependency)."""

    def fail(status: int, description: str) -> Response:
        if json_errors:
            return _token_error("invalid_request", description, status=status)
        return _page(
            "Error", f"<h1>Bad request</h1><p>{html.escape(description)}</p>", status=status
        )

    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/x-www-form-urlencoded":
        return fail(415, "Send the form as application/x-www-form-urlencoded.")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > _MAX_FORM_BYTES:
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
