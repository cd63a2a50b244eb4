"""``/v1/authorize``, the sign-in form behind it, and ``/v1/logout``.

Requests are checked in RFC 6749 order: an unknown ``client_id`` or an
unregistered ``redirect_uri`` is answered with an error page and never
redirected to (section 4.2.2.1); every later error is sent back to the client
in the fragment (``query`` for ``code``), with ``state`` echoed.  A signed-in
user's answer goes through :mod:`._handoff`, which asks for consent first when
the client registered itself and redirects off this machine.
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
from ._handoff import TRANSACTION_LIFETIME, HandOff
from ._models import AuthError, AuthRequest, DevClient, Pending, Session
from ._pages import error_page, error_redirect, page, read_form, sign_in_page

_RESPONSE_TYPES = {
    frozenset({"token"}),
    frozenset({"id_token"}),
    frozenset({"id_token", "token"}),
    frozenset({"code"}),
}
_PROMPTS = frozenset({"none", "login", "consent"})


class AuthorizeEndpoints(HandOff):
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
            return self._hand_off(
                request, auth, session.user, session.auth_time, status=302, acr=session.acr
            )
        except AuthError as error:
            return error_redirect(redirect_uri, mode, error, state, status=302)

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
        # RFC 7591 section 2: a registered client uses only the grants it registered.
        if not client.allows("authorization_code" if is_code else "implicit"):
            raise AuthError(
                "unauthorized_client", "The client is not registered for this response_type."
            )
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
        resource = parse_resource(one.get("resource"))
        self.registration.check(client, scopes, resource)
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
            resource=resource,
            acr_values=parse_acr_values(one),
            max_age=parse_max_age(one),
        )

    def _sign_in_form(self, request: Request, auth: AuthRequest) -> Response:
        """Show the sign-in form for a new transaction bound to this browser's cookie."""
        browser = self._browser_of(request)
        txn = self._new_transaction()
        self._store.pending[txn] = Pending(auth, self.local.clock() + TRANSACTION_LIFETIME, browser)
        response = sign_in_page(self.base_path, txn, auth, users=self._shown_users)
        return self._bind_browser(response, browser)

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
        if not self._same_browser(request, pending.browser):
            return error_page(
                "invalid_request",
                "This sign-in form was not opened in this browser (or its cookie is gone). "
                "Start again from the app.",
            )
        auth = pending.request
        if form.get("action") == "cancel":
            del self._store.pending[txn]
            cancelled = AuthError("access_denied", "The user cancelled the sign-in.")
            return error_redirect(
                auth.redirect_uri, auth.response_mode, cancelled, auth.state, status=303
            )
        username = form.get("username", "")
        user = self.users.get(username.lower())
        password = form.get("password", "")
        # An empty password never matches, even one configured empty.
        if (
            user is None
            or not user.password
            or not secrets.compare_digest(user.password.encode(), password.encode())
        ):
            error = "Sign-in failed: wrong username or password."
            return sign_in_page(
                self.base_path, txn, auth, error=error, username=username, users=self._shown_users
            )
        del self._store.pending[txn]
        now = self.local.clock()
        sid = secrets.token_urlsafe(32)
        acr = acr_after_sign_in(auth)
        self._store.sessions[sid] = Session(user, int(now), now + self.session_lifetime, acr)
        try:
            response = self._hand_off(request, auth, user, int(now), status=303, acr=acr)
        except AuthError as error:
            response = error_redirect(
                auth.redirect_uri, auth.response_mode, error, auth.state, status=303
            )
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

    async def _logout(self, request: Request) -> Response:
        sid = request.cookies.get(self.cookie_name)
        if sid:
            self._store.sessions.pop(sid, None)
        target = request.query_params.get("post_logout_redirect_uri")
        # OpenID Connect RP-Initiated Logout 1.0 section 3: only a URI the
        # client registered for this; with client_id, only that client's.
        client_id = request.query_params.get("client_id")
        named = [self.clients[client_id]] if client_id in self.clients else []
        clients = named if client_id else list(self.clients.values())
        allowed = {u for c in clients for u in c.logout_targets}
        response: Response
        if target and target in allowed:
            state = request.query_params.get("state")
            suffix = "?" + urlencode({"state": state}) if state else ""
            response = RedirectResponse(target + suffix, status_code=302)
        else:
            response = page("Signed out", "<h1>Signed out</h1>")
        response.delete_cookie(self.cookie_name, path="/")
        return response
