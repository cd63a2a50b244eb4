"""What the dev issuer knows: its clients and users, and the records it keeps in memory."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from .._options import checked_options

#: Client id registered when none is configured.
DEFAULT_CLIENT_ID = "0oadevspa0client0id"
#: Custom scopes offered besides the OpenID Connect ones.
DEFAULT_SCOPES = ("items:read", "items:write")
#: The demo user, when none is configured: ``alice@example.com`` / ``wonderland``.
DEFAULT_USERS: tuple[tuple[str, str], ...] = (("alice@example.com", "wonderland"),)


@checked_options
@dataclass(frozen=True)
class DevClient:
    """A registered OAuth client: its id, the exact redirect URIs it may use, its secret.

    The dev issuer redirects only to a URI listed here, compared as a whole
    string (RFC 6749 section 3.1.2.3); any other is answered with an error page.
    """

    client_id: str
    redirect_uris: tuple[str, ...]
    #: A confidential client's secret (``client_secret_basic`` or ``_post``, also
    #: for ``/v1/introspect`` and ``/v1/revoke``); ``None`` for a public client,
    #: which cannot use ``client_credentials``.
    client_secret: str | None = field(default=None, repr=False)

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


class AuthError(Exception):
    """An authorization error sent back to the client's redirect URI."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(error)
        self.error = error
        self.description = description


@dataclass
class Store:
    """The issuer's in-memory state: sessions, sign-in transactions and codes."""

    sessions: dict[str, Session] = field(default_factory=dict)
    pending: dict[str, Pending] = field(default_factory=dict)
    codes: dict[str, CodeGrant] = field(default_factory=dict)

    def prune(self, now: float) -> None:
        """Forget every record that has expired at ``now``."""
        for table in (self.sessions, self.pending, self.codes):
            expired = [k for k, v in table.items() if v.expires_at <= now]
            for key in expired:
                del table[key]
