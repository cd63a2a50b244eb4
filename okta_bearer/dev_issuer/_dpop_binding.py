"""The ``DPoP`` proof on a ``/v1/token`` request (RFC 9449 section 5), for every grant.

A token request carrying one valid proof gets a DPoP-bound access token:
``token_type: DPoP`` and ``cnf.jkt`` set to the proof key's thumbprint.  The
proof is checked by the library's own :func:`~okta_bearer._dpop.proof.check_proof`
(no ``ath`` at a token endpoint); the dev issuer keeps no ``jti`` replay cache.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from .._dpop.proof import InvalidDPoPProof, check_proof
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


def token_type(jkt: str | None) -> str:
    """The ``token_type`` of a token response: ``DPoP`` when bound (RFC 9449 section 5)."""
    return "Bearer" if jkt is None else "DPoP"
