"""``use_local_issuer``: the project's own ``OKTA_BEARER`` pointed at a LocalIssuer, for tests."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from django.conf import settings

from .._dpop.settings import DPoPSettings
from .._store.memory import MemoryStore
from ._conf import SETTING

if TYPE_CHECKING:  # the test helpers are imported only when a test uses them
    from django.test.utils import override_settings

    from ..testing import LocalIssuer

__all__ = ["use_local_issuer"]

# Options that name the real issuer's keys or shared state: replaced or dropped.
_DROPPED = frozenset({"verifier", "jwks_uri", "tenants", "store", "transport", "algorithms"})


def use_local_issuer(issuer: LocalIssuer) -> override_settings:
    """``override_settings`` for ``OKTA_BEARER`` that trusts ``issuer`` instead of the real one.

    Everything else the project configured stays (``public_paths``,
    ``required_scopes``, ``dpop``, ``resource``...), so a test exercises the
    project's own rules.  The issuer's keys are fetched through its
    in-memory transport (no network), the key cache and DPoP replay marks
    live in a fresh :class:`~okta_bearer.MemoryStore` (a test never writes
    to the project's Redis), and ``issuer`` mints tokens for the project's
    first ``audience``.  A project configured with its own ``verifier``
    (introspection, several issuers) is tested with the issuer's JWTs.

    Use it as a context manager, or decorate a test or a ``TestCase``::

        @use_local_issuer(ISSUER)
        class ItemsTests(SimpleTestCase): ...
    """
    from django.test.utils import override_settings

    current: Mapping[str, Any] = getattr(settings, SETTING, None) or {}
    options = {k: v for k, v in current.items() if k not in _DROPPED}
    audience = current.get("audience")
    if audience:
        issuer.audience = audience if isinstance(audience, str) else next(iter(audience))
    options.update(
        issuer=issuer.issuer,
        audience=audience or issuer.audience,
        transport=issuer.transport(),
        algorithms=(issuer.algorithm,),
    )
    dpop = current.get("dpop")
    if isinstance(dpop, DPoPSettings):
        options["dpop"] = dataclasses.replace(dpop, store=MemoryStore())
    elif isinstance(dpop, Mapping):
        options["dpop"] = {**dpop, "store": MemoryStore()}
    return override_settings(**{SETTING: options})
