"""What a self-registered client may be granted, and when a user must approve it first.

Anyone who can reach ``/v1/register`` can become a client, so a registration
must not be a key to everything the issuer offers.  A client the operator
configured (``DevIssuer(clients=...)``) is trusted as configured; a client
registered through RFC 7591 gets only what the operator allowed:

* **scopes**: the custom scopes in ``registration_scopes`` (by default the
  server's ``default_scopes``), plus the OpenID Connect scopes about the user
  who signs in; any other is ``invalid_scope``, by every grant.
* **audiences**: the RFC 8707 ``resource`` values in
  ``registration_audiences`` (by default only the issuer's own ``audience``,
  the ``aud`` a token gets when no resource is named); any other is
  ``invalid_target`` (RFC 8707 section 2).
* **consent**: before a token or code goes to a redirect URI that is not on
  this machine (``https`` to another host), the signed-in user sees a page
  naming the client and the redirect and must approve it (RFC 6819 section
  4.2.3; RFC 8252 section 8.6 for loopback redirects, which stay silent).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from .._config import is_loopback_url
from .._errors import ConfigurationError
from ._context import parse_resource
from ._models import USER_SCOPES, AuthError, DevClient


@dataclass(frozen=True)
class RegistrationPolicy:
    """The scopes and audiences a self-registered client may receive.

    Attributes:
        scopes: custom scopes allowed besides the OpenID Connect user scopes.
        audiences: RFC 8707 resources such a client may name.
    """

    scopes: frozenset[str]
    audiences: frozenset[str]

    @classmethod
    def build(
        cls,
        *,
        offered: Iterable[str],
        scopes: Iterable[str],
        audiences: Iterable[str],
    ) -> RegistrationPolicy:
        """Check the operator's choices against what the server offers.

        Raises:
            ConfigurationError: a scope is not offered (``registration_scopes``)
                or an audience is not an absolute URI (``registration_audiences``).
        """
        allowed = frozenset(scopes)
        unknown = sorted(allowed.difference(offered))
        if unknown:
            raise ConfigurationError(f"registration_scopes not offered by the server: {unknown}")
        checked: set[str] = set()
        for audience in audiences:
            try:
                parsed = parse_resource(audience) if isinstance(audience, str) else None
            except AuthError:
                parsed = None
            if parsed is None:
                raise ConfigurationError(
                    f"registration_audiences must be absolute URIs: {audience!r}"
                )
            checked.add(parsed)
        return cls(allowed, frozenset(checked))

    def check(self, client: DevClient, scopes: Iterable[str], resource: str | None) -> None:
        """Refuse a grant to a self-registered ``client`` beyond what the operator allowed.

        Raises:
            AuthError: ``invalid_scope`` or ``invalid_target``.
        """
        if not client.self_registered:
            return
        for scope in scopes:
            if scope not in self.scopes and scope not in USER_SCOPES:
                raise AuthError(
                    "invalid_scope", f"The scope is not available to registered clients: {scope}"
                )
        if resource is not None and resource not in self.audiences:
            raise AuthError(
                "invalid_target", "The resource is not available to registered clients."
            )


def needs_consent(client: DevClient, redirect_uri: str) -> bool:
    """Whether the user must approve ``client`` before anything is sent to ``redirect_uri``."""
    return client.self_registered and not is_loopback_url(redirect_uri)
