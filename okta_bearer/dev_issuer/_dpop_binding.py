"""The ``DPoP`` proof on a ``/v1/token`` request (RFC 9449 section 5), for every grant.

A token request carrying one valid proof gets a DPoP-bound access token:
``token_type: DPoP`` and ``cnf.jkt`` set to the proof key's thumbprint.  The
proof is checked by the library's own :func:`~okta_bearer._dpop.proof.check_proof`
(no ``ath`` at a token endpoint); the dev issuer keeps no ``jti`` replay cache.
:func:`is_thumbprint` checks the ``jkt`` that ``/dev/mint`` binds to instead.
"""

from __future__ import annotations

import re

from starlette.requests import Request
from starlette.responses import Response

from .._dpop.proof import InvalidDPoPProof, check_proof
from .._jwt.b64url import CANONICAL_LAST
from ._pages import token_error


def proof_thumbprint(request: Request, *, url: str, now: float) -> str | Response | None:
    """The proof key's thumbprint, ``None`` without a proof, or the 400 to send."""
    proofs = [v for k, v in request.scope["headers"] if k == b"dpop"]
    if not proofs:
        return None
    if len(proofs) > 1:
        return token_error("invalid_dpop_proof", "Only one DPoP proof is allowed.")
    try:
        proof = check_proof(
            proofs[0].decode("ascii"),
            method="POST",
            url=url,
            now=now,
            access_token=None,  # no ath at the token endpoint (RFC 9449 section 5)
        )
    except (UnicodeDecodeError, InvalidDPoPProof):
        return token_error("invalid_dpop_proof", "The DPoP proof is invalid.")
    return proof.jkt


# A SHA-256 digest (32 bytes) in unpadded base64url is 43 characters (RFC 7638 section 3.1);
# the last one carries 2 spare bits that must be zero (RFC 4648 section 3.5).
_THUMBPRINT = re.compile(r"[A-Za-z0-9_-]{43}")


def is_thumbprint(value: object) -> bool:
    """Whether ``value`` is a canonical RFC 7638 SHA-256 thumbprint: 43 base64url characters."""
    return (
        isinstance(value, str)
        and _THUMBPRINT.fullmatch(value) is not None
        and value.encode("ascii")[-1] in CANONICAL_LAST[3]
    )


def token_type(jkt: str | None) -> str:
    """The ``token_type`` of a token response: ``DPoP`` when bound (RFC 9449 section 5)."""
    return "Bearer" if jkt is None else "DPoP"
