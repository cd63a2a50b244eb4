"""Stateless DPoP server nonces (RFC 9449 section 9), shared by replicas (pure).

A nonce is an HMAC-SHA256, under a secret every replica is configured with,
of the current time step.  Any replica can issue one and check one without
shared storage: a nonce from the current step or the one before is accepted,
so each nonce lives between one and two steps.  The nonce bounds how long a
proof made ahead of time stays usable, whatever the client's clock says.
A successful request whose proof carries the previous step's nonce (one that
expires at the end of this step) is answered with the current one in
``DPoP-Nonce`` (RFC 9449 section 9), so a client that calls at least once per
step never has a request refused for a rotation.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from .._errors import ConfigurationError
from .proof import UseDPoPNonce

__all__ = ["MIN_SECRET_BYTES", "NonceSource"]

#: Shortest accepted secret: 256 bits, HMAC-SHA256's output size (RFC 2104 section 3).
MIN_SECRET_BYTES = 32
_LABEL = b"okta-bearer dpop nonce v1\x00"


class NonceSource:
    """Issue and check time-step nonces.

    Args:
        secret: the key shared by every replica (at least 32 bytes; a ``str``
            is used as its UTF-8 bytes).  Rotating it invalidates outstanding
            nonces, which clients recover from with one ``use_dpop_nonce`` retry.
        step: seconds per time step (a nonce is accepted for one to two steps).

    Raises:
        ConfigurationError: a short secret or a step that is not positive.
    """

    def __init__(self, secret: bytes | str, step: int = 300) -> None:
        key = secret.encode("utf-8") if isinstance(secret, str) else secret
        if not isinstance(key, bytes) or len(key) < MIN_SECRET_BYTES:
            raise ConfigurationError(
                f"nonce_secret: must be at least {MIN_SECRET_BYTES} bytes of random data"
            )
        if isinstance(step, bool) or not isinstance(step, int) or step < 1:
            raise ConfigurationError("nonce_step: must be a positive number of seconds")
        self._key = key
        self.step = step
        # Nonces of the steps in use: one HMAC per step, not per request.
        self._memo: dict[int, str] = {}

    def _for_step(self, counter: int) -> str:
        nonce = self._memo.get(counter)
        if nonce is None:
            data = _LABEL + counter.to_bytes(8, "big", signed=True)
            mac = hmac.new(self._key, data, hashlib.sha256).digest()
            nonce = base64.urlsafe_b64encode(mac).rstrip(b"=").decode("ascii")
            if len(self._memo) >= 4:
                self._memo.clear()
            self._memo[counter] = nonce
        return nonce

    def current(self, now: float) -> str:
        """The nonce to hand out at ``now`` (send it in ``DPoP-Nonce``)."""
        return self._for_step(int(now // self.step))

    def is_valid(self, nonce: str, now: float) -> bool:
        """Whether ``nonce`` belongs to the current time step or the previous one."""
        counter = int(now // self.step)
        given = nonce.encode("ascii", "replace")
        # Both compared every time, in constant time: no timing hint about the step.
        current = hmac.compare_digest(given, self._for_step(counter).encode("ascii"))
        previous = hmac.compare_digest(given, self._for_step(counter - 1).encode("ascii"))
        return current or previous

    def check(self, nonce: str | None, now: float) -> None:
        """Accept a valid ``nonce`` or raise :class:`UseDPoPNonce` with a fresh one."""
        if nonce is None:
            raise UseDPoPNonce(self.current(now), "nonce_required")
        if not self.is_valid(nonce, now):
            raise UseDPoPNonce(self.current(now), "nonce_stale")
