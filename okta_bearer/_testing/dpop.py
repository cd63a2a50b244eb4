"""Testing kit for DPoP (RFC 9449): a client key that makes proofs.

Bind a token to the key with :meth:`LocalIssuer.mint`'s ``cnf`` claim and send
both, the way a DPoP client would::

    key = DPoPKey()
    token = issuer.mint(cnf={"jkt": key.jkt})
    headers = key.headers("GET", "https://api.example.test/items", token)
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from .._dpop.proof import jwk_thumbprint
from .._options import checked_options
from .keys import OMIT, SigningKey

__all__ = ["DPoPKey"]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


@checked_options
class DPoPKey:
    """A DPoP client's key pair, making proofs for requests.

    Args:
        algorithm: proof algorithm (``ES256`` by default; any asymmetric
            algorithm :class:`~okta_bearer.testing.SigningKey` can generate).
        clock: seconds since the epoch, for ``iat``.
        private_key: an existing private key (a ``cryptography`` key object of
            ``algorithm``'s type, e.g. loaded from a file) instead of a new one.

    Attributes:
        jkt: the RFC 7638 thumbprint of the public key, for ``cnf.jkt``.
        public_jwk: the public key as it appears in the proof header.
    """

    def __init__(
        self,
        algorithm: str = "ES256",
        *,
        clock: Callable[[], float] = time.time,
        private_key: Any = None,
    ) -> None:
        self.algorithm = algorithm
        self.clock = clock
        self._key = (
            SigningKey.generate(algorithm, kid="dpop")
            if private_key is None
            else SigningKey("dpop", algorithm, private_key)
        )
        jwk = self._key.public_jwk
        for member in ("kid", "alg", "use"):
            jwk.pop(member, None)
        self.public_jwk: dict[str, Any] = jwk
        self.jkt = jwk_thumbprint(jwk)

    @property
    def private_key(self) -> Any:
        """The private key (a ``cryptography`` key object), e.g. to save it."""
        return self._key.private_key

    def proof(
        self,
        method: str,
        url: str,
        token: str | None = None,
        *,
        nonce: str | None = None,
        jti: str | None = None,
        iat: float | None = None,
        header: Mapping[str, Any] | None = None,
        **claims: Any,
    ) -> str:
        """A signed proof for ``method`` and ``url`` (``ath`` of ``token`` when given).

        ``jti`` defaults to a fresh UUID and ``iat`` to the clock; ``header``
        entries and keyword claims override the defaults, ``OMIT`` drops one
        (e.g. ``proof("GET", url, token, htm=OMIT)``).
        """
        head: dict[str, Any] = {"typ": "dpop+jwt", "alg": self.algorithm, "jwk": self.public_jwk}
        head.update(header or {})
        body: dict[str, Any] = {
            "jti": jti if jti is not None else str(uuid.uuid4()),
            "htm": method,
            "htu": url,
            "iat": int(self.clock()) if iat is None else iat,
        }
        if token is not None:
            body["ath"] = _b64(hashlib.sha256(token.encode("ascii")).digest())
        if nonce is not None:
            body["nonce"] = nonce
        body.update(claims)
        head = {k: v for k, v in head.items() if v is not OMIT}
        body = {k: v for k, v in body.items() if v is not OMIT}
        signing_input = f"{_b64(json.dumps(head).encode())}.{_b64(json.dumps(body).encode())}"
        signature = self._key.sign(signing_input.encode("ascii"))
        return f"{signing_input}.{_b64(signature)}"

    def headers(
        self, method: str, url: str, token: str, *, nonce: str | None = None
    ) -> dict[str, str]:
        """``Authorization: DPoP <token>`` and a fresh ``DPoP`` proof for the request."""
        proof = self.proof(method, url, token, nonce=nonce)
        return {"authorization": f"DPoP {token}", "dpop": proof}
