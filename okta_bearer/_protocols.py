"""The one interface every token profile implements (JWT, introspection, several issuers)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Protocol, runtime_checkable

from ._jwt.claims import Claims

__all__ = ["SyncVerifier", "Verifier", "warm_up"]


@runtime_checkable
class Verifier(Protocol):
    """Something that turns an access token into verified :class:`Claims`.

    :class:`~okta_bearer.TokenVerifier` (local JWT checks) is one; introspection
    and multi-issuer routing are others.  The middleware and the framework
    integrations only ever see this interface, so every profile ends in the
    same ``Claims`` and the same :class:`~okta_bearer.BearerError` tree.

    A verifier may also define ``async def warm_up(self) -> list[str]``
    (optional, so not part of the protocol): fetch what it needs from its
    issuer now and return the problems found, an empty list when ready.  The
    middleware calls it at lifespan start-up (see ``startup_check``); every
    verifier of this library has one.
    """

    async def verify(self, token: str, required_scopes: Iterable[str] = ()) -> Claims:
        """Return the claims of ``token`` or raise a :class:`~okta_bearer.BearerError`.

        ``required_scopes`` must all be granted (else ``InsufficientScope``,
        best raised through ``check_scopes`` so it carries the claims).  The
        claims of a sender-constrained token are returned with their
        ``binding``; refusing it as a bearer token is the caller's job
        (:func:`okta_bearer.check_bearer`), since only the caller knows
        whether a proof came with it.
        """
        ...

    async def aclose(self) -> None:
        """Release what the verifier owns (HTTP clients, background tasks)."""
        ...


@runtime_checkable
class SyncVerifier(Protocol):
    """The blocking side of a :class:`Verifier`, for WSGI apps (Flask, Django).

    Every verifier of this library is both: ``verify_sync`` runs the same
    checks as ``verify`` (the same pure policy for keys and introspection
    answers), driven from the calling thread with ``httpx.Client`` and a
    store's blocking face.  It is thread-safe: threads that meet a cold
    cache share one fetch (single-flight per process, or per fleet with a
    shared store), and no lock is held during a network call.  The async and
    the sync side of one verifier keep separate in-flight fetches but the
    same configuration; use one side per process.
    """

    def verify_sync(self, token: str, required_scopes: Iterable[str] = ()) -> Claims:
        """:meth:`Verifier.verify`, blocking the calling thread."""
        ...

    def close(self) -> None:
        """Release what the sync side owns (its ``httpx.Client``)."""
        ...


async def warm_up(*verifiers: object) -> list[str]:
    """Warm every verifier that has a ``warm_up()`` method, concurrently; the problems found.

    Concurrent, so start-up waits for the slowest issuer, not for their sum.
    """
    methods = [getattr(v, "warm_up", None) for v in verifiers]
    results = await asyncio.gather(*(m() for m in methods if callable(m)))
    return [str(problem) for problems in results for problem in problems]
