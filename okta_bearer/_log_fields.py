"""Who a refused request says it is: ``issuer``, ``client_id`` and ``kid`` for log records.

A refusal log is where an operator learns which issuer or client is sending
bad tokens, so the middleware adds these fields to the record's ``extra``:

* for a refusal the route raised after the token was verified
  (``require_scopes``), from the verified claims (no ``kid``: the claims do
  not keep the header);
* otherwise from the token's header and payload, decoded but *not verified*
  (the token was refused, perhaps forged): useful to route the problem, not
  proof of anything.

Values are strings cut to 200 characters; the token itself, its signature
and every other claim stay out.  Runs only on refusals, never on the hot path.
"""

from __future__ import annotations

import binascii
import json
from base64 import urlsafe_b64decode
from typing import Any

from starlette.types import Scope

from ._jwt.claims import Claims

__all__ = ["token_fields"]

_LIMIT = 200
_MAX_TOKEN = 16 * 1024


def _segment(segment: str) -> dict[str, Any]:
    try:
        value = json.loads(urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    except (ValueError, binascii.Error, RecursionError):
        return {}
    return value if isinstance(value, dict) else {}


def _strings(**values: object) -> dict[str, str]:
    return {k: v[:_LIMIT] for k, v in values.items() if isinstance(v, str) and v}


def unverified_fields(token: str) -> dict[str, str]:
    """``issuer``, ``client_id`` and ``kid`` as a JWT states them (unverified; pure)."""
    parts = token.split(".")
    if len(token) > _MAX_TOKEN or len(parts) != 3 or not token.isascii():
        return {}
    header, payload = _segment(parts[0]), _segment(parts[1])
    return _strings(
        issuer=payload.get("iss"),
        client_id=payload.get("cid", payload.get("client_id")),
        kid=header.get("kid"),
    )


def token_fields(scope: Scope) -> dict[str, str]:
    """The fields of the token behind this request: verified claims if any, else unverified."""
    claims = getattr(scope.get("user"), "claims", None)
    if isinstance(claims, Claims):
        return _strings(issuer=claims.raw.get("iss"), client_id=claims.client_id)
    for name, value in scope.get("headers", ()):
        if name == b"authorization":
            # Any scheme (Bearer, DPoP): the credential is the second word.
            words = value.decode("latin-1").split()
            if len(words) == 2:
                return unverified_fields(words[1])
    return {}
