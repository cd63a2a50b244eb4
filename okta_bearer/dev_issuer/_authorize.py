"""``/v1/authorize``, the sign-in form behind it, and ``/v1/logout``.

Requests are checked in RFC 6749 order: an unknown ``client_id`` or an
unregistered ``redirect_uri`` is answered with an error page and never
redirected to (section 4.2.2.1); every later error is sent back to the client
in the fragment (``query`` for ``code``), with ``state`` echoed.
"""

from __future__ import annotations

import secrets
from urllib.parse import parse_qsl, urlencode, urlsplit

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from ._context import (
    acr_after_sign_in,
    needs_sign_in,
    parse_acr_values,
    parse_max_age,
    parse_resource,
)
from ._core import IssuerCore
from ._models import AuthError, AuthRequest, CodeGrant, DevClient, DevUser, Pending, Session
from ._pages import error_page, page, read_form, redirect, sign_in_page

_RESPONSE_TYPES = {
    frozenset({"token"}),
    frozenset({"id_token"}),
    frozenset({"id_token", "token"}),
    frozenset({"code"}),
}
_PROMPTS = frozenset({"none", "login", "consent"})
_MAX_PENDING = 10_000


class AuthorizeEndpoints(IssuerCore):
    """The browser's side of the dev issuer: authorize, sign in, sign out."""

    async def _authorize(self, request: Request) -> Response:
        pairs = parse_qsl(request.url.query, keep_blank_values=True)
        params: dict[str, list[str]] = {}
        for key, value in pairs:
            params.setdefault(key, []).append(value)
        # Steps 1 and 2 (RFC 6749 4.1.2.1 / 4.2.2.1): without a trustworthy
        # client and redirect URI the user is told, and nothing is redirected.
        client_ids = params.get("client_id", [])
        if len(client_ids) != 1 or not client_ids[0]:
            return error_page("invalid_request", "The request needs exactly one client_id.")
        client = self.clients.get(client_ids[0])
        if client is None:
            return error_page(
                "invalid_client",
                f"The client_id {client_ids[0]!r} is not registered with this dev issuer.",
            )
        redirects = params.get("redirect_uri", [])
        if len(redirects) != 1 or redirects[0] not in client.redirect_uris:
            shown = redirects[0] if len(redirects) == 1 else "(missing or repeated)"
            return error_page(
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
            # max_age and acr_values (OIDC Core 3.1.2.1) can force a new sign-in.
            sign_in = needs_sign_in(session, auth, self.local.clock())
            if "none" in auth.prompt and sign_in:
                raise AuthError("login_required", "The user must sign in again.")
            if session is None or sign_in:
                return self._sign_in_form(request, auth)
            return self._complete(
                auth, session.user, session.auth_time, status=302, acr=session.acr
            )
        except AuthError as error:
            return redirect(
                redirect_uri,
                mode,
                {"error": error.error, "error_description": error.description, "state": state},
                status=302,
            )

    def _check(
        self, client: DevClient, redirect_uri: str, params: dict[str, list[str]]
    ) -> AuthRequest:
        repeated = sorted(k for k, v in params.items() if len(v) > 1)
        if repeated:
            raise AuthError("invalid_request", f"Parameter repeated: {repeated[0]}")
        one = {k: v[0] for k, v in params.items()}
        if not one.get("response_type"):
            raise AuthError("invalid_request", "The response_type parameter is missing.")
        response_types = frozenset(one["response_type"].split())
        if response_types not in _RESPONSE_TYPES:
            raise AuthError(
                "unsupported_response_type",
                "Supported: code, token, id_token and 'id_token token'.",
            )
        is_code = response_types == {"code"}
        mode = one.get("response_mode") or ("query" if is_code else "fragment")
        # Tokens never go in a query string (OAuth 2.0 Multiple Response Types, section 5).
        if mode not in ("query", "fragment") or (mode == "query" and not is_code):
            raise AuthError(
                "invalid_request", f"Unsupported response_mode for this request: {mode}"
            )
        requested = tuple(dict.fromkeys(one.get("scope", "").split()))
        unknown = [s for s in requested if s not in self.scopes]
        if unknown:
            raise AuthError("invalid_scope", f"The scope is not offered: {unknown[0]}")
        scopes = requested or self.default_scopes
        if not scopes:
            raise AuthError(
                "invalid_scope",
                "Request the openid scope or configure a default scope on the server.",
            )
        if "openid" not in scopes and not self.default_scopes:
            raise AuthError(
                "invalid_scope",
                "The openid scope is required (no default scope is configured).",
            )
        wants_id_token = "id_token" in response_types
        if wants_id_token and "openid" not in scopes:
            raise AuthError("invalid_scope", "An ID token needs the openid scope.")
        nonce = one.get("nonce") or None
        if wants_id_token and nonce is None:
            raise AuthError("invalid_request", "A nonce is required when an ID token is returned.")
        challenge_value = one.get("code_challenge") or None
        if is_code:
            if challenge_value is None:
                raise AuthError("invalid_request", "PKCE is required: send a code_challenge.")
            if one.get("code_challenge_method") != "S256":
                raise AuthError("invalid_request", "The code_challenge_method must be S256.")
            if not 43 <= len(challenge_value) <= 128:
                raise AuthError("invalid_request", "The code_challenge is malformed.")
        prompt = frozenset(one.get("prompt", "").split())
        if not prompt <= _PROMPTS or ("none" in prompt and len(prompt) > 1):
            raise AuthError("invalid_request", "Unsupported prompt value.")
        return AuthRequest(
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
            resource=parse_resource(one.get("resource")),
            acr_values=parse_acr_values(one),
            max_age=parse_max_age(one),
        )

    def _session(self, request: Request) -> Session | None:
        sid = request.cookies.get(self.cookie_name)
        if not sid:
            return None
        session = self._store.sessions.get(sid)
        if session is None or session.expires_at <= self.local.clock():
            return None
        return session

    @property
    def _browser_cookie(self) -> str:
        return f"{self.cookie_name}_browser"

    def _sign_in_form(self, request: Request, auth: AuthRequest) -> Response:
        """Show the sign-in form for a new transaction bound to this browser's cookie."""
        browser = request.cookies.get(self._browser_cookie) or secrets.token_urlsafe(24)
        now = self.local.clock()
        self._store.prune(now)
        if len(self._store.pending) >= _MAX_PENDING:
            self._store.pending.pop(next(iter(self._store.pending)))
        txn = secrets.token_urlsafe(24)
        self._store.pending[txn] = Pending(auth, now + 600, browser)
        response = sign_in_page(self.base_path, txn, auth, users=self._shown_users)
        response.set_cookie(
            self._browser_cookie,
            browser,
            path=f"{self.base_path}/v1/",
            httponly=True,
            samesite="lax",
            secure=urlsplit(self.issuer).scheme == "https",
        )
        return response

    async def _login(self, request: Request) -> Response:
        form = await read_form(request)
        if isinstance(form, Response):
            return form
        txn = form.get("txn", "")
        pending = self._store.pending.get(txn)
        if pending is None or pending.expires_at <= self.local.clock():
            return error_page(
                "invalid_request",
                "This sign-in attempt has expired or is unknown. Start again from the app.",
            )
        browser = request.cookies.get(self._browser_cookie, "")
        if not secrets.compare_digest(browser.encode(), pending.browser.encode()):
            return error_page(
                "invalid_request",
                "This sign-in form was not opened in this browser (or its cookie is gone). "
                "Start again from the app.",
            )
        auth = pending.request
        if form.get("action") == "cancel":
            del self._store.pending[txn]
            return redirect(
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
            error = "Sign-in failed: wrong username or password."
            return sign_in_page(
                self.base_path, txn, auth, error=error, username=username, users=self._shown_users
            )
        del self._store.pending[txn]
        now = self.local.clock()
        sid = secrets.token_urlsafe(32)
        acr = acr_after_sign_in(auth)
        self._store.sessions[sid] = Session(user, int(now), now + self.session_lifetime, acr)
        response = self._complete(auth, user, int(now), status=303, acr=acr)
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
        self,
        auth: AuthRequest,
        user: DevUser,
        auth_time: int,
        *,
        status: int,
        acr: str | None = None,
    ) -> Response:
        """Answer a signed-in authorization request with tokens or a code."""
        params: dict[str, str | None] = {}
        if "code" in auth.response_types:
            now = self.local.clock()
            self._store.prune(now)
            code = secrets.token_urlsafe(32)
            self._store.codes[code] = CodeGrant(
                auth, user, auth_time, now + self.code_lifetime, acr
            )
            params["code"] = code
        access_token = None
        if "token" in auth.response_types:
            access_token = self.issue_access_token(
                user,
                auth.client.client_id,
                auth.scopes,
                auth_time=auth_time,
                audience=auth.resource,
                acr=acr,
            )
            params["access_token"] = access_token
            params["token_type"] = "Bearer"  # noqa: S105 - the RFC 6750 token type, not a secret
            params["expires_in"] = str(self.token_lifetime)
            params["scope"] = " ".join(auth.scopes)
        if "id_token" in auth.response_types:
            params["id_token"] = self._id_token(auth, user, auth_time, access_token, acr=acr)
        params["state"] = auth.state
        return redirect(auth.redirect_uri, auth.response_mode, params, status=status)

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
            response = page("Signed out", "<h1>Signed out</h1>")
        response.delete_cookie(self.cookie_name, path="/")
        return response
