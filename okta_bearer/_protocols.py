"""The one interface every token profile implements (JWT, introspection, several issuers)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Protocol, runtime_checkable

from ._jwt.claims import Claims

__all__ = ["Verifier", "warm_up"]


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


async def warm_up(*verifiers: object) -> list[str]:
    """Warm every verifier that has a ``warm_up()`` method, concurrently; the problems found.

    Concurrent, so start-up waits for the slowest issuer, not for their sum.
    """
    methods = [getattr(v, "warm_up", None) for v in verifiers]
    results = await asyncio.gather(*(m() for m in methods if callable(m)))
    return [str(problem) for problems in results for problem in problems]
