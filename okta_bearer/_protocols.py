"""The one interface every token profile implements (JWT, introspection, several issuers)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol, runtime_checkable

from ._jwt.claims import Claims

__all__ = ["Verifier"]


@runtime_checkable
class Verifier(Protocol):
    """Something that turns an access token into verified :class:`Claims`.

    :class:`~okta_bearer.TokenVerifier` (local JWT checks) is one; introspection
    and multi-issuer routing are others.  The middleware and the framework
    integrations only ever see this interface, so every profile ends in the
    same ``Claims`` and the same :class:`~okta_bearer.BearerError` tree.
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
