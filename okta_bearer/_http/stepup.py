"""RFC 9470 step-up authentication: is the user's sign-in strong and recent enough? (pure)

A route may need more than a valid token: a sign-in with a given
authentication context class (``acr``, e.g. a second factor) or one that
happened recently (``auth_time`` within ``max_age`` seconds).  A token that
falls short is answered with 401 ``insufficient_user_authentication`` and the
requirement in the challenge, so the client can ask the authorization server
for a new sign-in with the same ``acr_values`` / ``max_age`` (RFC 9470 section 3).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from .._errors import ConfigurationError, InsufficientUserAuthentication
from .._jwt.validation import _MAX_NUMERIC_DATE, _MIN_NUMERIC_DATE

__all__ = ["InsufficientUserAuthentication", "StepUpPolicy"]

# Values are written inside acr_values="..." (space-separated), so each must be
# a visible ASCII token without quotes or backslashes (RFC 9470 section 3).
_ACR_VALUE = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]+")


class StepUpPolicy:
    """What a route requires of the user's authentication event.

    Args:
        acr_values: acceptable ``acr`` values; the token's ``acr`` must equal
            one of them exactly.  Empty: any ``acr``.
        max_age: the sign-in (``auth_time``) must be at most this many seconds
            old.  A token without a numeric ``auth_time`` fails the rule.

    Raises:
        ConfigurationError: naming the option.
    """

    __slots__ = ("acr_values", "max_age")

    def __init__(self, acr_values: Iterable[str] = (), max_age: int | None = None) -> None:
        if isinstance(acr_values, str):
            raise ConfigurationError("acr_values must be a list of strings, not one string")
        values = tuple(acr_values)
        if not all(isinstance(v, str) and _ACR_VALUE.fullmatch(v) for v in values):
            raise ConfigurationError(
                "acr_values entries must be visible ASCII without spaces, quotes or backslashes"
            )
        if max_age is not None and (
            isinstance(max_age, bool) or not isinstance(max_age, int) or max_age < 0
        ):
            raise ConfigurationError("max_age must be a non-negative integer of seconds, or None")
        self.acr_values = values
        self.max_age = max_age

    def __bool__(self) -> bool:
        return bool(self.acr_values) or self.max_age is not None

    def check(self, claims: Mapping[str, Any], now: float, scopes: Iterable[str] = ()) -> None:
        """Raise unless ``claims`` (a token's raw claims) satisfy the policy at ``now``.

        ``scopes`` are the ones the operation needs (the route's or the
        tool's); a refusal names them in the challenge's ``scope``, beside
        the middleware's own, so the client's new token keeps them.

        Raises:
            InsufficientUserAuthentication: the ``acr`` is missing or not
                listed, or ``auth_time`` is missing, not a number, or older
                than ``max_age``.  The error carries the whole requirement,
                so the challenge tells the client everything to ask for.
        """
        if self.acr_values:
            acr = claims.get("acr")
            if acr not in self.acr_values:
                self._fail(
                    "acr_not_accepted",
                    "A stronger authentication is required",
                    {"expected": " ".join(self.acr_values), "got": str(acr)[:64]},
                    scopes,
                )
        if self.max_age is not None:
            auth_time = claims.get("auth_time")
            # RFC 9470 section 4 / OIDC Core 2: auth_time is a NumericDate, a
            # JSON number (RFC 7519 section 2).  NaN or an infinity would make
            # any sign-in look recent, and a 400-digit integer overflows float
            # arithmetic: outside the verifier's bounds for exp/iat/nbf (years
            # 1-9999) it is no auth_time at all.
            if (
                isinstance(auth_time, bool)
                or not isinstance(auth_time, (int, float))
                or not _MIN_NUMERIC_DATE <= auth_time <= _MAX_NUMERIC_DATE
            ):
                self._fail("no_auth_time", "A more recent authentication is required", None, scopes)
            elif now - auth_time > self.max_age:
                self._fail(
                    "auth_too_old",
                    "A more recent authentication is required",
                    {"expected": f"<= {self.max_age}s", "got": f"{int(now - auth_time)}s"},
                    scopes,
                )

    def _fail(
        self,
        reason: str,
        description: str,
        context: Mapping[str, str] | None,
        scopes: Iterable[str],
    ) -> None:
        raise InsufficientUserAuthentication(
            reason,
            description,
            acr_values=self.acr_values,
            max_age=self.max_age,
            context=context,
            required=scopes,
        )
