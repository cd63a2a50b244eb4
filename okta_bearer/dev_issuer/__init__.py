"""The dev issuer: :class:`~okta_bearer.testing.LocalIssuer` served over HTTP.

One issuer model, two faces: the same ``LocalIssuer`` that mints tokens in a
test process answers, here, the requests a browser and an API make to an Okta
custom authorization server at ``{issuer}`` (``.../oauth2/default``):

=======================================  =========================================
``/.well-known/oauth-authorization-server``  RFC 8414 metadata
``/.well-known/openid-configuration``    the same, for OpenID Connect clients
``/v1/keys``                             JWKS, with ``Cache-Control: max-age``
``/v1/authorize``                        implicit (``token``, ``id_token``,
                                         ``id_token token``) and ``code`` + PKCE;
                                         ``resource`` (RFC 8707) sets ``aud``,
                                         ``acr_values``/``max_age`` re-authenticate
``/v1/login``                            the hosted sign-in form posts here
``/v1/token``                            ``authorization_code`` (PKCE S256) and
                                         ``client_credentials`` grants, DPoP-bound
                                         with a ``DPoP`` proof
``/v1/consent``                          the consent page for self-registered
                                         clients posts here
``/v1/register``                         dynamic client registration (RFC 7591)
``/v1/userinfo``                         OpenID Connect UserInfo
``/v1/logout``                           ends the sign-in session
``/v1/introspect``, ``/v1/revoke``       RFC 7662 / RFC 7009 for resource servers
                                         (opaque tokens: ``/dev/mint`` ``opaque``)
``/dev/mint``, ``/dev/rotate``           loopback-only admin: a token for curl
                                         (DPoP-bound with ``jkt``), key rotation
                                         (JSON POST)
=======================================  =========================================

Run it in your own tests through ``httpx.ASGITransport(app=DevIssuer(issuer))``,
or on a port with ``uvicorn`` (``okta-bearer dev-issuer`` does that).  It is a
development tool: state lives in memory, passwords are plain configuration, and
plain ``http`` is expected on loopback.

It is safe to leave running, because of these guards:

* **No web page drives what needs no sign-in.**  ``/dev/mint``, ``/dev/rotate``
  and ``/v1/register`` share one guard (:mod:`._local_only`): a loopback peer,
  a loopback ``Host`` (against DNS rebinding) and no ``Origin``; else 403.
* **Self-registered clients get what the operator allowed** (:mod:`._policy`):
  the custom scopes in ``registration_scopes`` (default: ``default_scopes``)
  and the RFC 8707 resources in ``registration_audiences`` (default: none), by
  every grant, and only the grants they registered; configured clients are
  not limited.
* **No silent hand-off** (:mod:`._handoff`): a self-registered client whose
  redirect URI is not on this machine gets nothing until the signed-in user
  approves it on a consent page naming it and the redirect URI (bound to the
  browser and the user, single use; deny is ``access_denied``).
  ``/v1/logout`` redirects only to a registered ``post_logout_redirect_uris``
  entry (or a configured client's redirect URI).
* **Secrets** (:mod:`._clientauth`): one check for ``/v1/token``,
  ``/v1/introspect`` and ``/v1/revoke``; an empty secret never authenticates;
  only confidential clients may introspect.
* **DPoP** (:mod:`._dpop_binding`): both token grants honour a ``DPoP`` proof
  (``cnf.jkt``, ``token_type: DPoP``); introspection says ``DPoP`` for bound tokens.
"""

from __future__ import annotations

from ._app import DevIssuer
from ._models import DEFAULT_CLIENT_ID, DEFAULT_SCOPES, DEFAULT_USERS, DevClient, DevUser

__all__ = [
    "DEFAULT_CLIENT_ID",
    "DEFAULT_SCOPES",
    "DEFAULT_USERS",
    "DevClient",
    "DevIssuer",
    "DevUser",
]
