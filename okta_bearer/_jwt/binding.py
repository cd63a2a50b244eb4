"""Sender-constrained tokens: what binds a token, and the one rule for bearer use (pure).

RFC 9449 section 7.2: a token bound to a key is not a bearer token, so it
never works without proof of possession, whatever the entry point (the
middleware with or without DPoP, FastAPI, the MCP SDK's verifier, a direct
caller of ``verify()``).  Every such entry point calls :func:`check_bearer`
before any scope check: a thief without the key learns no scope names.

What binds a token is read once, when its claims are built (:data:`DPOP_KEY`
or :data:`UNCHECKABLE` in :attr:`Claims.binding <okta_bearer.Claims.binding>`):

* ``cnf`` holding exactly ``jkt`` (a non-empty string): bound to a DPoP key,
  checkable with a proof (RFC 9449 section 6).
* any other ``cnf`` (``x5t#S256`` of RFC 8705 mutual TLS, ``jwk``, ``kid``,
  ``jkt`` next to another member, a ``jkt`` that is not a string, a ``cnf``
  that is not an object): bound by a confirmation method this library cannot
  check, so refused on every path, DPoP included (RFC 7800 section 3).
* an introspection answer's ``token_type`` of ``DPoP`` (any case) without a
  usable ``cnf.jkt`` (RFC 9449 section 6.2): bound, to a key we are not told.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

from .._errors import InvalidToken

if TYPE_CHECKING:
    from .claims import Claims

__all__ = ["DPOP_KEY", "UNCHECKABLE", "binding_of", "check_bearer", "refusal"]

#: ``Claims.binding`` of a token bound to a DPoP key by ``cnf.jkt``.
DPOP_KEY: Final = "jkt"
#: ``Claims.binding`` of a token bound by a confirmation this library cannot check.
UNCHECKABLE: Final = "uncheckable"

_ABSENT = object()


def binding_of(payload: Mapping[str, Any]) -> str | None:
    """How ``payload`` is bound: ``None`` (bearer), :data:`DPOP_KEY` or :data:`UNCHECKABLE`."""
    cnf = payload.get("cnf", _ABSENT)
    if cnf is _ABSENT:
        token_type = payload.get("token_type")
        if isinstance(token_type, str) and token_type.lower() == "dpop":
            return UNCHECKABLE
        return None
    if isinstance(cnf, Mapping) and len(cnf) == 1:
        jkt = cnf.get("jkt")
        if isinstance(jkt, str) and jkt:
            return DPOP_KEY
    return UNCHECKABLE


def check_bearer(claims: Claims) -> None:
    """Refuse ``claims`` of a sender-constrained token presented as a bearer token.

    Call it on every token that arrived without a proof of possession
    (``Authorization: Bearer``, the MCP SDK, a direct ``verify()``), before
    any scope check.  Cheap: one attribute read for a bearer token.

    Raises:
        InvalidToken: ``dpop_downgrade`` for a DPoP-bound token (``cnf.jkt``),
            ``uncheckable_binding`` for any other binding (401).
    """
    binding = claims.binding
    if binding is not None:
        raise refusal(binding)


def refusal(binding: str) -> InvalidToken:
    """The 401 for a token with ``binding`` used where that binding is not proven."""
    if binding == DPOP_KEY:
        return InvalidToken("dpop_downgrade", "A DPoP-bound token requires the DPoP scheme")
    return InvalidToken(
        "uncheckable_binding", "The token is bound to a key by a method this server cannot check"
    )
