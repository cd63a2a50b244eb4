"""``TokenUser``: the caller a verified token names, shaped like Django's users (no database)."""

from __future__ import annotations

import hashlib
from typing import Any

from .._jwt.claims import Claims

__all__ = ["TokenUser"]


class TokenUser:
    """The ``request.user`` DRF's :class:`~okta_bearer.django.drf.BearerAuthentication` sets.

    It answers what DRF and Django's permission code ask of a user
    (``is_authenticated``, ``is_anonymous``, ``get_username``...), from the
    token's claims, without a database row: never staff, never superuser, no
    model permissions.  ``claims`` holds the :class:`~okta_bearer.Claims`.

    ``pk`` (and ``id``) identify the caller without naming it: a hex digest of
    the issuer and :attr:`username`.  DRF's ``UserRateThrottle`` and
    ``ScopedRateThrottle`` key their counts on ``request.user.pk``, so each
    caller is counted apart (with ``pk = None`` every token would share one
    bucket, and one caller could exhaust everyone's rate).  The digest is
    safe in any cache key (64 hex characters, no personal data).
    """

    is_active = True
    is_staff = False
    is_superuser = False
    is_authenticated = True
    is_anonymous = False

    def __init__(self, claims: Claims) -> None:
        self.claims = claims
        caller = f"{claims.issuer}\x00{self.username}".encode()
        self.pk = self.id = hashlib.sha256(caller).hexdigest()

    @property
    def username(self) -> str:
        """The token's subject (``sub``), or its client id for a client-credentials token."""
        return self.claims.sub or self.claims.client_id or ""

    def get_username(self) -> str:
        """:attr:`username`, as Django's user models spell it."""
        return self.username

    def has_perm(self, perm: str, obj: Any = None) -> bool:
        """``False``: Django model permissions are not granted by tokens (use scopes)."""
        return False

    def has_perms(self, perm_list: Any, obj: Any = None) -> bool:
        """``False``, as :meth:`has_perm`."""
        return False

    def has_module_perms(self, app_label: str) -> bool:
        """``False``, as :meth:`has_perm`."""
        return False

    def __str__(self) -> str:
        return self.username

    def __repr__(self) -> str:
        return f"<TokenUser {self.username!r}>"
