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
                                         ``client_credentials`` grants
``/v1/register``                         dynamic client registration (RFC 7591)
``/v1/userinfo``                         OpenID Connect UserInfo
``/v1/logout``                           ends the sign-in session
``/v1/introspect``, ``/v1/revoke``       RFC 7662 / RFC 7009 for resource servers
                                         (opaque tokens: ``/dev/mint`` ``opaque``)
``/dev/mint``, ``/dev/rotate``           loopback-only admin: a token for curl,
                                         key rotation (JSON POST)
=======================================  =========================================

Run it in your own tests through ``httpx.ASGITransport(app=DevIssuer(issuer))``,
or on a port with ``uvicorn`` (``okta-bearer dev-issuer`` does that).  It is a
development tool: state lives in memory, passwords are plain configuration, and
plain ``http`` is expected on loopback.
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
