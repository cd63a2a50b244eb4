"""DPoP for one request: scheme, proof, key binding and replay (the glue over the store).

The middleware asks a :class:`DPoPGuard` three things:

1. :meth:`~DPoPGuard.credentials`: which scheme and token the ``Authorization``
   header carries, given the configured mode (``None``: no usable credentials,
   answered with a bare challenge).
2. after the verifier accepted the token, :meth:`~DPoPGuard.check`: the proof
   checks of RFC 9449 section 4.3 (pure, ``okta_bearer._dpop.proof``), the token's
   binding to the proof key (section 6.1), then one atomic set-if-absent of
   the proof's ``jti`` in the shared store (section 11.1).  The replay mark
   comes last, so only requests with a valid, bound token write to the store.
3. on refusal, :meth:`~DPoPGuard.challenge_headers`: ``WWW-Authenticate``
   challenges placed as section 7.1 says, and ``DPoP-Nonce`` when one is due.

A WSGI integration (Flask, Django) calls :meth:`~DPoPGuard.check_sync` instead
of :meth:`~DPoPGuard.check`, with the same arguments (an ASGI-shaped scope
built from the environ): the same checks, one function for both, and the
replay mark written through the store's blocking face
(``okta_bearer._store.memory.sync_face``), so ASGI and WSGI workers sharing
one store share the marks.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Mapping
from typing import Any, Literal

from starlette.types import Message, Send

from .._errors import BearerError, InvalidRequest
from .._http.rfc6750 import challenge as bearer_challenge
from .._jwt.binding import check_bearer
from .._jwt.claims import Claims
from .._store.memory import StoreUnavailable, SyncStore, sync_face
from .clock import SteadyClock, mark_ttl
from .proof import (
    DPoPProof,
    InvalidDPoPProof,
    ReplayCacheUnavailable,
    UseDPoPNonce,
    check_binding,
    check_proof,
)
from .settings import DPoPSettings
from .url import request_url

__all__ = ["DPoPGuard", "Scheme"]

logger = logging.getLogger("okta_bearer")

#: The authorization scheme a request used.
Scheme = Literal["Bearer", "DPoP"]

# RFC 6750 section 2.1 b64token, which RFC 9449 section 7.1 reuses for DPoP.
_TOKEN68 = re.compile(r"[A-Za-z0-9\-._~+/]+=*")
_UNSAFE_TEXT = re.compile(r"[^\x20\x21\x23-\x5b\x5d-\x7e]")


class DPoPGuard:
    """Apply :class:`~okta_bearer._dpop.settings.DPoPSettings` to requests.

    Args:
        settings: the DPoP configuration.
        clock: seconds since the epoch (``time.time``); injectable for tests.
        monotonic: real elapsed seconds (``time.monotonic``); with ``clock``
            it makes the :class:`~okta_bearer._dpop.clock.SteadyClock` that
            proof windows are judged on, so a wall-clock step back cannot
            make a used proof acceptable again.
    """

    def __init__(
        self,
        settings: DPoPSettings,
        *,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self._clock = SteadyClock(clock, monotonic)
        self._mark_ttl = mark_ttl(settings.replay_window)
        self._nonces = settings.nonces()
        self._algs = " ".join(settings.algorithms)
        self._sync_store: SyncStore | None = None  # the store's blocking face, on first use

    # -- 1. which scheme ------------------------------------------------------

    def credentials(self, values: list[bytes]) -> tuple[Scheme, str] | None:
        """The scheme and token of the ``Authorization`` header values.

        Returns ``None`` for no header or a scheme the mode does not accept
        (``DPoP`` in ``bearer`` mode, ``Bearer`` in ``required`` mode), which
        RFC 6750 section 3.1 answers with a challenge carrying no error code.

        Raises:
            InvalidRequest: two headers, an empty token, or bad token characters.
        """
        if not values:
            return None
        if len(values) > 1:
            raise InvalidRequest("multiple_headers", "Only one Authorization header is allowed")
        try:
            value = values[0].decode("ascii")
        except UnicodeDecodeError as exc:
            raise InvalidRequest("bad_header", "Authorization header is malformed") from exc
        name, _, rest = value.partition(" ")
        scheme: Scheme
        # Auth-scheme names are case-insensitive (RFC 9110 section 11.1).
        if name.lower() == "bearer" and self.settings.mode != "required":
            scheme = "Bearer"
        elif name.lower() == "dpop" and self.settings.mode != "bearer":
            scheme = "DPoP"
        else:
            return None
        token = rest.strip(" \t")
        if not token:
            raise InvalidRequest("empty_token", "The access token is empty")
        if not _TOKEN68.fullmatch(token):
            raise InvalidRequest("bad_header", "Authorization header is malformed")
        return scheme, token

    # -- 2. the proof ---------------------------------------------------------

    async def check(
        self, scope: Mapping[str, Any], scheme: Scheme, token: str, claims: Claims
    ) -> DPoPProof | None:
        """Check the DPoP side of a request whose token the verifier accepted.

        Args:
            scope: the ASGI scope (method, path, headers).
            scheme: what :meth:`credentials` returned.
            token: the access token, exactly as sent.
            claims: the verified token's claims.

        Returns:
            The checked proof for ``DPoP``; ``None`` for an accepted ``Bearer``.

        Raises:
            InvalidToken: a sender-constrained token sent as ``Bearer``
                (RFC 9449 section 7.2, :func:`~okta_bearer.check_bearer`), an
                unbound token sent as ``DPoP``, or a binding to another key.
            InvalidDPoPProof: a missing, bad, mismatched or replayed proof
                (two ``DPoP`` headers included).
            UseDPoPNonce: nonces are on and the proof's is missing or stale.
            ReplayCacheUnavailable: the store cannot answer and the policy
                is ``fail_closed``.
        """
        proof = self._checked(scope, scheme, token, claims)
        if proof is not None:
            try:
                fresh = await self.settings.replay_store.set_if_absent(
                    self._mark_key(proof), b"1", self._mark_ttl
                )
            except StoreUnavailable:
                fresh = None
            self._marked(fresh)
        return proof

    def check_sync(
        self, scope: Mapping[str, Any], scheme: Scheme, token: str, claims: Claims
    ) -> DPoPProof | None:
        """:meth:`check` for a WSGI app: the same arguments, checks and errors, blocking.

        ``scope`` is ASGI-shaped (``method``, ``path``, ``headers`` as
        lower-case byte pairs...), built from the WSGI environ.  The replay
        mark goes through the blocking face of ``DPoPSettings.store`` (its
        ``sync`` attribute), shared with ASGI workers using the same store.

        Raises:
            ConfigurationError: on first use, when the store has no blocking face.
            InvalidToken, InvalidDPoPProof, UseDPoPNonce, ReplayCacheUnavailable:
                as :meth:`check`.
        """
        proof = self._checked(scope, scheme, token, claims)
        if proof is not None:
            if self._sync_store is None:
                self._sync_store = sync_face(self.settings.replay_store, "store")
            try:
                fresh = self._sync_store.set_if_absent(self._mark_key(proof), b"1", self._mark_ttl)
            except StoreUnavailable:
                fresh = None
            self._marked(fresh)
        return proof

    def _checked(
        self, scope: Mapping[str, Any], scheme: Scheme, token: str, claims: Claims
    ) -> DPoPProof | None:
        """Everything :meth:`check` and :meth:`check_sync` decide before the replay mark."""
        if scheme == "Bearer":
            # Presenting a bound token as a bearer token would drop the very
            # proof of possession it was issued for.
            check_bearer(claims)
            return None
        headers: list[tuple[bytes, bytes]] = scope.get("headers", [])
        proofs = [v for k, v in headers if k == b"dpop"]
        # RFC 9449 section 7.1: the server checks that a proof was received;
        # none is a failed proof (401), like two of them.
        if not proofs:
            raise InvalidDPoPProof("missing_proof", "DPoP proof is missing")
        # RFC 9449 section 4.3, check 1: exactly one proof (a comma cannot
        # occur in a compact JWS, so a joined pair fails as malformed).
        if len(proofs) > 1:
            raise InvalidDPoPProof("multiple_proofs", "Only one DPoP proof is allowed")
        try:
            proof = proofs[0].decode("ascii")
        except UnicodeDecodeError as exc:
            raise InvalidDPoPProof("malformed", "DPoP proof is not a valid JWS") from exc
        settings = self.settings
        now = self._clock()
        nonces = self._nonces
        result = check_proof(
            proof,
            method=scope.get("method", "GET"),  # a WebSocket handshake is a GET
            url=request_url(scope, origin=settings.origin, forwarded=settings.forwarded),
            now=now,
            access_token=token,
            algorithms=settings.algorithms,
            max_age=settings.max_age,
            leeway=settings.leeway,
            nonce_check=None if nonces is None else (lambda nonce: nonces.check(nonce, now)),
            max_size=settings.max_proof_size,
        )
        check_binding(claims, result.jkt)
        return result

    @staticmethod
    def _mark_key(proof: DPoPProof) -> str:
        # RFC 9449 section 11.1: one atomic set-if-absent keyed by key and jti
        # (never check-then-set), kept until the guard's clock is a whole
        # window past it, even after a wall-clock step back (see _dpop/clock.py).
        return f"dpop:{proof.jkt}:{proof.jti}"

    def _marked(self, fresh: bool | None) -> None:
        """What the replay mark's outcome means: ``fresh`` is ``None`` when the store failed."""
        settings = self.settings
        if fresh is None:
            if settings.store_failure == "fail_open":
                logger.warning("okta_bearer: DPoP replay store unavailable; proof not checked")
                return
            logger.warning("okta_bearer: DPoP replay store unavailable; request refused (503)")
            raise ReplayCacheUnavailable(settings.retry_after)
        if not fresh:
            raise InvalidDPoPProof("replayed", "DPoP proof has already been used")

    def offer_nonce(self, proof: DPoPProof, send: Send) -> Send:
        """``send``, adding ``DPoP-Nonce`` to the answer when a newer nonce is due.

        RFC 9449 section 9: a server may supply a new nonce on a successful
        response.  When the accepted proof carried the previous step's nonce
        (valid only until this step ends), the answer carries the current one,
        so the client switches before its nonce expires, without a refusal.
        """
        current = self.nonce_to_offer(proof)
        if current is None:
            return send
        header = (b"dpop-nonce", current.encode("ascii"))

        async def send_with_nonce(message: Message) -> None:
            if message["type"] in ("http.response.start", "websocket.accept"):
                message = {**message, "headers": [*message.get("headers", ()), header]}
            await send(message)

        return send_with_nonce

    def nonce_to_offer(self, proof: DPoPProof) -> str | None:
        """The ``DPoP-Nonce`` an accepted request's answer should carry, if any.

        The current nonce when nonces are on and ``proof`` did not carry it
        (see :meth:`offer_nonce`, which applies it to an ASGI answer; a WSGI
        integration adds the header itself).
        """
        nonces = self._nonces
        if nonces is None:
            return None
        current = nonces.current(self._clock())
        return None if proof.nonce == current else current

    # -- 3. the answer --------------------------------------------------------

    def current_nonce(self) -> str | None:
        """The nonce to send in ``DPoP-Nonce`` now, or ``None`` when nonces are off."""
        return None if self._nonces is None else self._nonces.current(self._clock())

    def dpop_challenge(self, error: BearerError | None, *, details: bool = True) -> str:
        """``DPoP algs="..."`` with the error attributes of ``error`` (RFC 9449 section 7.1)."""
        parts = [f'algs="{self._algs}"']
        if details and error is not None and error.error is not None and error.status != 503:
            parts.append(f'error="{error.error}"')
            parts.append(f'error_description="{_UNSAFE_TEXT.sub(chr(39), error.description)}"')
        return "DPoP " + ", ".join(parts)

    def challenge_headers(
        self,
        error: BearerError | None,
        scheme: Scheme | None,
        *,
        realm: str | None,
        details: bool = True,
    ) -> list[tuple[bytes, bytes]]:
        """``WWW-Authenticate`` (one field per scheme) and ``DPoP-Nonce`` for a refusal.

        The error's attributes go on the challenge of the scheme the client
        tried; the other accepted scheme gets a bare challenge (RFC 9449
        section 7.2).  ``scheme`` is ``None`` when no credentials were used.
        """
        mode = self.settings.mode
        bearer_error = error if scheme != "DPoP" else None
        dpop_error = error if scheme == "DPoP" else None
        values: list[str] = []
        if mode != "required":
            values.append(bearer_challenge(bearer_error, realm=realm, details=details))
        if mode != "bearer":
            values.append(self.dpop_challenge(dpop_error, details=details))
        headers = [(b"www-authenticate", v.encode("ascii")) for v in values]
        nonce = error.nonce if isinstance(error, UseDPoPNonce) else None
        if nonce is not None:
            headers.append((b"dpop-nonce", nonce.encode("ascii")))
        return headers
