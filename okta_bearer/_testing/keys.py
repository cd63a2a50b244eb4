"""Signing keys and the OMIT marker of the testing kit (public through okta_bearer.testing)."""

from __future__ import annotations

import base64
import json
import secrets
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from jwt.algorithms import get_default_algorithms

from .._options import checked_options

__all__ = ["OMIT", "SigningKey"]


_EC_CURVES: dict[str, ec.EllipticCurve] = {
    "ES256": ec.SECP256R1(),
    "ES384": ec.SECP384R1(),
    "ES512": ec.SECP521R1(),
}
_ALGORITHMS = get_default_algorithms()
_ALGORITHMS["Ed25519"] = _ALGORITHMS["EdDSA"]  # RFC 9864: the fully specified name


class _Omit:
    def __repr__(self) -> str:
        return "OMIT"


#: Pass as a claim or header value to :meth:`LocalIssuer.mint` to leave it out.
OMIT: Any = _Omit()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


@checked_options
@dataclass(frozen=True)
class SigningKey:
    """A private key with its ``kid`` and algorithm; ``public_jwk`` is what the JWKS shows."""

    kid: str
    algorithm: str
    private_key: Any

    @classmethod
    def generate(
        cls, algorithm: str = "RS256", *, kid: str | None = None, key_size: int = 2048
    ) -> SigningKey:
        """Make a fresh key pair for ``algorithm`` (RS*/PS*, ES256/384/512, EdDSA or Ed25519)."""
        kid = kid or secrets.token_urlsafe(12)
        private: Any
        if algorithm in _EC_CURVES:
            private = ec.generate_private_key(_EC_CURVES[algorithm])
        elif algorithm in ("EdDSA", "Ed25519"):
            private = ed25519.Ed25519PrivateKey.generate()
        elif algorithm[:2] in ("RS", "PS"):
            private = rsa.generate_private_key(public_exponent=65537, key_size=key_size)
        else:
            raise ValueError(f"LocalIssuer cannot make keys for {algorithm!r}")
        return cls(kid, algorithm, private)

    @property
    def public_jwk(self) -> dict[str, Any]:
        """The public half as a JWK with ``kid``, ``alg`` and ``use: sig``."""
        algo = _ALGORITHMS[self.algorithm]
        jwk: dict[str, Any] = json.loads(algo.to_jwk(self.private_key.public_key()))
        jwk.update(kid=self.kid, alg=self.algorithm, use="sig")
        return jwk

    def sign(self, signing_input: bytes) -> bytes:
        """Sign ``signing_input`` (``header.payload``) with this key."""
        algo = _ALGORITHMS[self.algorithm]
        return algo.sign(signing_input, self.private_key)
