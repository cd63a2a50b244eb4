"""What every endpoint of the dev issuer shares: its configuration, state and token minting."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from collections.abc import Iterable
from typing import Any

from ..testing import OMIT, LocalIssuer, TokenRegistry
from ._models import AuthRequest, DevClient, DevUser, Store
from ._policy import RegistrationPolicy


def b64url(data: bytes) -> str:
    """Unpadded base64url, as JOSE and PKCE write it."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


class IssuerCore:
    """The attributes :class:`~okta_bearer.dev_issuer.DevIssuer` sets, and how it mints tokens.

    The endpoint groups (authorize, token, admin) subclass this, so each is
    written against the same state; ``DevIssuer`` combines them and fills it in.
    """

    local: LocalIssuer
    clients: dict[str, DevClient]
    users: dict[str, DevUser]
    scopes: tuple[str, ...]
    default_scopes: tuple[str, ...]
    token_lifetime: int
    code_lifetime: int
    session_lifetime: int
    cookie_name: str
    show_credentials: bool
    registration: RegistrationPolicy
    base_path: str
    _store: Store
    tokens: TokenRegistry

    @property
    def _shown_users(self) -> tuple[DevUser, ...]:
        """The users listed on the sign-in page: all of them with ``show_credentials``."""
        return tuple(self.users.values()) if self.show_credentials else ()

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
        jkt: str | None = None,
        audience: str | None = None,
        acr: str | None = None,
    ) -> str:
        """Mint an Okta-shaped access token for ``user`` (or the client itself when ``None``).

        ``lifetime`` (seconds) defaults to the issuer's ``token_lifetime``;
        ``jkt`` binds the token to a DPoP key (``cnf.jkt``, RFC 9449 section 6.1).
        ``audience`` (an RFC 8707 resource) replaces the issuer's default
        ``aud``; ``acr`` records how the user signed in (RFC 9470 section 4).
        """
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
            if acr is not None:
                claims["acr"] = acr
        if jkt is not None:
            claims["cnf"] = {"jkt": jkt}
        if audience is not None:
            claims["aud"] = audience
        return self.local.mint(**claims)

    def issue_opaque_token(
        self,
        user: DevUser | None,
        client_id: str,
        scopes: Iterable[str],
        *,
        lifetime: int,
        jkt: str | None = None,
    ) -> str:
        """An opaque access token (for ``/v1/introspect``) with the claims of
        :meth:`issue_access_token`; it is remembered in ``tokens``.  With ``jkt``
        it is bound: introspection answers ``token_type: DPoP`` and its
        ``cnf.jkt`` (RFC 9449 section 6.2)."""
        signed = self.issue_access_token(user, client_id, scopes, lifetime=lifetime, jkt=jkt)
        segment = signed.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
        token = secrets.token_urlsafe(32)
        self.tokens.opaque[token] = claims
        return token

    def _id_token(
        self,
        auth: AuthRequest,
        user: DevUser,
        auth_time: int,
        access_token: str | None,
        *,
        acr: str | None = None,
    ) -> str:
        now = int(self.local.clock())
        claims: dict[str, Any] = {
            "aud": auth.client.client_id,
            "sub": user.uid,
            "iat": now,
            "exp": now + self.token_lifetime,
            "auth_time": auth_time,
        }
        if acr is not None:
            claims["acr"] = acr
        if "profile" in auth.scopes:
            claims.update(name=user.name, preferred_username=user.login)
        if "email" in auth.scopes:
            claims.update(email=user.login, email_verified=True)
        if access_token is not None:
            # OpenID Connect Core 3.2.2.10: left half of SHA-256 of the access token.
            digest = hashlib.sha256(access_token.encode("ascii")).digest()
            claims["at_hash"] = b64url(digest[:16])
        return self.local.mint_id_token(nonce=auth.nonce, **claims)
