"""A DPoP-bound token from a running dev issuer, without a browser.

The dev issuer binds a token to a key when the token request carries a DPoP
proof (RFC 9449 section 5).  Its ``authorization_code`` grant does that today,
so this runs the flow a browser would, over HTTP: register a public client
(RFC 7591), ask ``/v1/authorize`` for a code with PKCE (RFC 7636) and the
optional RFC 8707 ``resource``, sign in on its form with the user's
password, and redeem the code at ``/v1/token`` with a proof signed by the key.
The answer is ``token_type: DPoP`` and a token whose ``cnf.jkt`` is the key's.
"""

from __future__ import annotations

import base64
import hashlib
import html
import re
import secrets
from collections.abc import Sequence
from typing import Any
from urllib.parse import parse_qsl, urljoin, urlsplit

import httpx

from ..testing import DPoPKey
from ._common import EXIT_REJECTED, EXIT_UNREACHABLE, CLIError

# Nothing listens here: the code is read from the redirect's Location header.
REDIRECT_URI = "http://127.0.0.1/okta-bearer-cli/callback"
_FIELD = re.compile(r'name="txn" value="([^"]+)"')
_ACTION = re.compile(r'<form[^>]*action="([^"]+)"')


def _json(response: httpx.Response, what: str) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError:
        data = None
    if not isinstance(data, dict) or response.status_code >= 400:
        detail = data.get("error_description") if isinstance(data, dict) else None
        raise CLIError(
            f"the dev issuer refused {what} ({response.status_code}): {detail or 'no details'}",
            EXIT_REJECTED,
        )
    return data


def _pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _code_from(response: httpx.Response, state: str) -> str:
    location: str = response.headers.get("location", "")
    if response.status_code not in (302, 303) or not location.startswith(REDIRECT_URI):
        raise CLIError(
            "sign-in failed: check --user and --password (the dev issuer prints its users)",
            EXIT_REJECTED,
        )
    found: dict[str, str] = dict(parse_qsl(urlsplit(location).query))
    if "error" in found:
        why = found.get("error_description") or found["error"]
        raise CLIError(f"the dev issuer refused the authorization: {why}", EXIT_REJECTED)
    code: str | None = found.get("code")
    if found.get("state") != state or not code:
        raise CLIError("the dev issuer's redirect carried no code for this request", EXIT_REJECTED)
    return code


def dpop_token(
    issuer: str,
    key: DPoPKey,
    *,
    user: str,
    password: str,
    scopes: Sequence[str],
    resource: str | None,
    timeout: float,
) -> dict[str, Any]:
    """The token response of the dev issuer for ``user``, bound to ``key``.

    Raises:
        CLIError: the issuer is unreachable (exit status 3) or refused a step (1).
    """
    try:
        with httpx.Client(timeout=timeout, follow_redirects=False) as client:
            meta = _json(
                client.get(f"{issuer.rstrip('/')}/.well-known/openid-configuration"), "discovery"
            )
            registered = _json(
                client.post(
                    meta["registration_endpoint"],
                    json={
                        "client_name": "okta-bearer CLI",
                        "redirect_uris": [REDIRECT_URI],
                        "token_endpoint_auth_method": "none",
                        "grant_types": ["authorization_code"],
                    },
                ),
                "the client registration",
            )
            client_id, state = registered["client_id"], secrets.token_urlsafe(16)
            verifier, challenge = _pkce()
            params = {
                "client_id": client_id,
                "redirect_uri": REDIRECT_URI,
                "response_type": "code",
                "scope": " ".join(scopes),
                "state": state,
                "nonce": secrets.token_urlsafe(16),
                "code_challenge": challenge,
                "code_challenge_method": "S256",
                "prompt": "login",
            }
            if resource is not None:
                params["resource"] = resource
            page = client.get(meta["authorization_endpoint"], params=params)
            if page.status_code in (302, 303):  # an error sent back to the redirect URI
                _code_from(page, state)
            txn, action = _FIELD.search(page.text), _ACTION.search(page.text)
            if page.status_code != 200 or txn is None or action is None:
                _json(page, "the authorization request")  # raises with its error
                raise CLIError("the dev issuer showed no sign-in form", EXIT_REJECTED)
            form = {"txn": txn[1], "username": user, "password": password, "action": "sign-in"}
            login = urljoin(str(page.url), html.unescape(action[1]))
            code = _code_from(client.post(login, data=form), state)
            token_endpoint = meta["token_endpoint"]
            body = {
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": REDIRECT_URI,
                "client_id": client_id,
                "code_verifier": verifier,
            }
            if resource is not None:
                body["resource"] = resource
            proof = key.proof("POST", token_endpoint)
            answer = client.post(token_endpoint, data=body, headers={"DPoP": proof})
            return _json(answer, "the token request")
    except httpx.HTTPError as exc:
        raise CLIError(
            f"cannot reach the dev issuer at {issuer} ({type(exc).__name__}); "
            "is `okta-bearer dev-issuer` (or `okta-bearer demo`) running?",
            EXIT_UNREACHABLE,
        ) from exc
    except KeyError as exc:
        raise CLIError(f"the dev issuer's answer has no {exc.args[0]}", EXIT_REJECTED) from exc
