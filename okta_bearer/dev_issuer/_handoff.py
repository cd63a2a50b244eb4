"""Handing a signed-in user's answer to the client: consent first when needed, then the answer.

A client the operator configured, or one that redirects to this machine,
gets its answer at once.  A self-registered client that redirects elsewhere
(:func:`~._policy.needs_consent`) first gets a consent page naming it and its
redirect URI; only ``approve`` posted from the browser that was shown the
page, still signed in as the same user, sends anything to it (RFC 6819
section 4.2.3, RFC 9700 section 4.11); ``deny`` sends ``access_denied``.
"""

from __future__ import annotations

import secrets
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import Response

from ._core import IssuerCore
from ._models import AuthError, AuthRequest, CodeGrant, Consent, DevUser, Session
from ._pages import consent_page, error_page, error_redirect, read_form, redirect
from ._policy import needs_consent

#: Bound on open sign-in and consent transactions (the oldest is dropped).
MAX_PENDING = 10_000
#: Seconds a sign-in form or consent page can be answered.
TRANSACTION_LIFETIME = 600


class HandOff(IssuerCore):
    """Sessions, the browser binding of forms, the consent step, and the final redirect."""

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

    def _browser_of(self, request: Request) -> str:
        """This browser's binding id, a new one when it has none yet."""
        return request.cookies.get(self._browser_cookie) or secrets.token_urlsafe(24)

    def _bind_browser(self, response: Response, browser: str) -> Response:
        """Set the cookie that binds a form shown in ``response`` to this browser."""
        response.set_cookie(
            self._browser_cookie,
            browser,
            path=f"{self.base_path}/v1/",
            httponly=True,
            samesite="lax",
            secure=urlsplit(self.issuer).scheme == "https",
        )
        return response

    def _same_browser(self, request: Request, browser: str) -> bool:
        """Whether the request carries the binding cookie of the browser that opened a form."""
        sent = request.cookies.get(self._browser_cookie, "")
        return secrets.compare_digest(sent.encode(), browser.encode())

    def _new_transaction(self) -> str:
        """A fresh transaction id, after forgetting expired ones and bounding the rest."""
        self._store.prune(self.local.clock())
        for table in (self._store.pending, self._store.consents):
            if len(table) >= MAX_PENDING:
                table.pop(next(iter(table)))
        return secrets.token_urlsafe(24)

    def _hand_off(
        self,
        request: Request,
        auth: AuthRequest,
        user: DevUser,
        auth_time: int,
        *,
        status: int,
        acr: str | None,
    ) -> Response:
        """Answer ``auth`` for a signed-in ``user``, or ask the user to approve the client first.

        Raises:
            AuthError: ``consent_required`` when consent is needed under ``prompt=none``.
        """
        if not needs_consent(auth.client, auth.redirect_uri):
            return self._complete(auth, user, auth_time, status=status, acr=acr)
        if "none" in auth.prompt:
            raise AuthError("consent_required", "The user must approve this client.")
        browser = self._browser_of(request)
        txn = self._new_transaction()
        expires_at = self.local.clock() + TRANSACTION_LIFETIME
        self._store.consents[txn] = Consent(auth, expires_at, browser, user, auth_time, acr)
        return self._bind_browser(consent_page(self.base_path, txn, auth, user), browser)

    async def _consent(self, request: Request) -> Response:
        form = await read_form(request)
        if isinstance(form, Response):
            return form
        # Single use, whatever the outcome.
        consent = self._store.consents.pop(form.get("txn", ""), None)
        if consent is None or consent.expires_at <= self.local.clock():
            return error_page(
                "invalid_request",
                "This consent page has expired or is unknown. Start again from the app.",
            )
        session = self._session(request)
        if not self._same_browser(request, consent.browser) or (
            session is None or session.user != consent.user
        ):
            return error_page(
                "invalid_request",
                "This consent page was not opened in this browser by the signed-in user. "
                "Start again from the app.",
            )
        auth = consent.request
        if form.get("action") != "approve":
            denied = AuthError("access_denied", "The user did not approve the client.")
            return error_redirect(
                auth.redirect_uri, auth.response_mode, denied, auth.state, status=303
            )
        return self._complete(auth, consent.user, consent.auth_time, status=303, acr=consent.acr)

    def _complete(
        self,
        auth: AuthRequest,
        user: DevUser,
        auth_time: int,
        *,
        status: int,
        acr: str | None = None,
    ) -> Response:
        """Answer a signed-in, approved authorization request with tokens or a code."""
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
