"""What the dev issuer knows: its clients and users, and the records it keeps in memory."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from .._errors import ConfigurationError
from .._options import checked_options

#: Client id registered when none is configured.
DEFAULT_CLIENT_ID = "0oadevspa0client0id"
#: Custom scopes offered besides the OpenID Connect ones.
DEFAULT_SCOPES = ("items:read", "items:write")
#: Scopes about the signed-in user (OpenID Connect Core 5.4), not about an API.
USER_SCOPES = ("openid", "profile", "email", "offline_access")
#: The demo user, when none is configured: ``alice@example.com`` / ``wonderland``.
DEFAULT_USERS: tuple[tuple[str, str], ...] = (("alice@example.com", "wonderland"),)


@checked_options
@dataclass(frozen=True)
class DevClient:
    """A registered OAuth client: its id, the exact redirect URIs it may use, its secret.

    The dev issuer redirects only to a URI listed here, compared as a whole
    string (RFC 6749 section 3.1.2.3); any other is answered with an error page.

    Raises:
        ConfigurationError: ``client_secret`` is the empty string (an empty
            secret would authenticate anyone; use ``None`` for a public client).
    """

    client_id: str
    redirect_uris: tuple[str, ...]
    #: A confidential client's secret (``client_secret_basic`` or ``_post``, also
    #: for ``/v1/introspect`` and ``/v1/revoke``); ``None`` for a public client,
    #: which can use neither ``client_credentials`` nor ``/v1/introspect``.
    client_secret: str | None = field(default=None, repr=False)
    #: Where ``/v1/logout`` may send the browser back to, besides (for a client
    #: the operator configured) its ``redirect_uris``.
    post_logout_redirect_uris: tuple[str, ...] = ()
    #: The name the client gave itself at registration (shown on the consent page).
    client_name: str = ""
    #: Registered through ``/v1/register`` (RFC 7591) rather than configured:
    #: limited to the issuer's registration policy, and a user approves it on a
    #: consent page before it receives anything at a non-loopback redirect URI.
    self_registered: bool = False
    #: The grants the client registered for (RFC 7591 section 2); ``None``: every grant.
    grant_types: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if self.client_secret == "":
            raise ConfigurationError(
                "client_secret must be a non-empty string, or None for a public client"
            )

    def allows(self, grant_type: str) -> bool:
        """Whether the client may use ``grant_type`` (``implicit`` for token responses)."""
        return self.grant_types is None or grant_type in self.grant_types

    @property
    def logout_targets(self) -> tuple[str, ...]:
        """The URIs ``/v1/logout`` may redirect to for this client (exact strings)."""
        if self.self_registered:
            return self.post_logout_redirect_uris
        return (*self.redirect_uris, *self.post_logout_redirect_uris)

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


@checked_options
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
class Session:
    """A signed-in browser, found by its session cookie."""

    user: DevUser
    auth_time: int
    expires_at: float
    acr: str = "urn:okta:loa:1fa:pwd"


@dataclass(frozen=True)
class AuthRequest:
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
    # RFC 8707 resource (the token's aud) and OIDC acr_values / max_age.
    resource: str | None = None
    acr_values: tuple[str, ...] = ()
    max_age: int | None = None


@dataclass
class CodeGrant:
    """An authorization code's request and user, until it is redeemed or expires."""

    request: AuthRequest
    user: DevUser
    auth_time: int
    expires_at: float
    acr: str | None = None


@dataclass(frozen=True)
class Pending:
    """An authorization request shown as a sign-in form, keyed by its transaction id.

    ``browser`` is the id in the browser cookie of whoever opened the form: the
    form's POST must carry the same cookie, so a page elsewhere cannot sign the
    user in as someone else with its own transaction (login CSRF).
    """

    request: AuthRequest
    expires_at: float
    browser: str


@dataclass(frozen=True)
class Consent:
    """A consent page shown to a signed-in user, keyed by its transaction id.

    Like :class:`Pending`, ``browser`` binds the page's POST to the browser
    that opened it; the sign-in it follows travels with it.
    """

    request: AuthRequest
    expires_at: float
    browser: str
    user: DevUser
    auth_time: int
    acr: str | None


class AuthError(Exception):
    """An authorization error sent back to the client's redirect URI."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(error)
        self.error = error
        self.description = description


@dataclass
class Store:
    """The issuer's in-memory state: sessions, sign-in and consent transactions, codes."""

    sessions: dict[str, Session] = field(default_factory=dict)
    pending: dict[str, Pending] = field(default_factory=dict)
    codes: dict[str, CodeGrant] = field(default_factory=dict)
    consents: dict[str, Consent] = field(default_factory=dict)

    def prune(self, now: float) -> None:
        """Forget every record that has expired at ``now``."""
        tables: tuple[dict[str, Any], ...] = (
            self.sessions,
            self.pending,
            self.codes,
            self.consents,
        )
        for table in tables:
            expired = [k for k, v in table.items() if v.expires_at <= now]
            for key in expired:
                del table[key]
