"""Refusals in the OpenAPI document: what a protected operation can answer (pure).

Works on the plain dict FastAPI builds, so it needs no framework import.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Mapping
from typing import Any

__all__ = [
    "DPOP_PROOF_SCHEME_NAME",
    "DPOP_SCHEME_NAME",
    "ERROR_SCHEMA",
    "document_dpop",
    "document_refusals",
]

ERROR_SCHEMA_NAME = "BearerError"
#: The security scheme naming DPoP-bound access tokens (RFC 9449).
DPOP_SCHEME_NAME = "DPoP"
#: The security scheme naming the ``DPoP`` proof header sent with them.
DPOP_PROOF_SCHEME_NAME = "DPoPProof"

#: The default refusal body (see ``okta_bearer._http.responses.error_body``).
ERROR_SCHEMA: dict[str, Any] = {
    "title": ERROR_SCHEMA_NAME,
    "type": "object",
    "description": "RFC 6750 error body; error and error_description are null when "
    "the middleware's error_details is off.",
    "properties": {
        "error": {
            "anyOf": [{"type": "string"}, {"type": "null"}],
            "description": "RFC 6750 error code; null when no token was sent.",
            "examples": ["invalid_token"],
        },
        "error_description": {
            "anyOf": [{"type": "string"}, {"type": "null"}],
            "description": "Short, token-free English text.",
        },
        "missing_scope": {
            "type": "string",
            "description": "403 only: the required scopes the token lacks, space-separated.",
        },
    },
    "required": ["error", "error_description"],
}

_BODY = {"application/json": {"schema": {"$ref": f"#/components/schemas/{ERROR_SCHEMA_NAME}"}}}
_CHALLENGE = {
    "WWW-Authenticate": {
        "description": "The Bearer challenge (RFC 6750 section 3).",
        "schema": {"type": "string"},
    }
}
_RESPONSES: dict[str, dict[str, Any]] = {
    "400": {
        "description": "Malformed Authorization header (invalid_request).",
        "headers": _CHALLENGE,
        "content": _BODY,
    },
    "401": {
        "description": "No access token, or an invalid one (invalid_token).",
        "headers": _CHALLENGE,
        "content": _BODY,
    },
    "403": {
        "description": "The token lacks a required scope (insufficient_scope).",
        "headers": _CHALLENGE,
        "content": _BODY,
    },
    "503": {
        "description": "The issuer's signing keys cannot be obtained; retry later.",
        "headers": {
            "Retry-After": {"description": "Seconds to wait.", "schema": {"type": "integer"}}
        },
        "content": _BODY,
    },
}
_METHODS = frozenset({"get", "put", "post", "delete", "options", "head", "patch", "trace"})


def document_refusals(
    schema: dict[str, Any],
    *,
    scheme_name: str,
    scheme: Mapping[str, Any],
    is_public: Callable[[str], bool],
    optional: bool,
    required_scopes: tuple[str, ...],
) -> None:
    """Add the refusals the middleware can send to every operation it protects.

    An operation is protected when its path is not public and, in optional
    mode, when it depends on the claims (it names ``scheme_name``). Protected
    operations get ``scheme_name`` as their security requirement (so Swagger
    UI sends the token) and 400/401/503 responses, plus 403 when a scope is
    required.  Responses the app declares itself are left as they are.
    """
    protected = False
    for path, item in schema.get("paths", {}).items():
        if is_public(path):
            continue
        for method, operation in item.items():
            if method not in _METHODS:
                continue
            security = operation.get("security") or []
            named = [r for r in security if scheme_name in r]
            if not named:
                if optional:
                    continue
                # The middleware asks for the token whatever else the operation
                # accepts: ours joins every alternative (requirements are ANDed).
                named = [{**r, scheme_name: []} for r in security] or [{scheme_name: []}]
                operation["security"] = named
            protected = True
            scoped = bool(required_scopes) or any(r[scheme_name] for r in named)
            responses = operation.setdefault("responses", {})
            for status, response in _RESPONSES.items():
                if status != "403" or scoped:
                    responses.setdefault(status, copy.deepcopy(response))
    if protected:
        components = schema.setdefault("components", {})
        schemas = components.setdefault("schemas", {})
        schemas.setdefault(ERROR_SCHEMA_NAME, copy.deepcopy(ERROR_SCHEMA))
        components.setdefault("securitySchemes", {}).setdefault(scheme_name, dict(scheme))


def document_dpop(schema: dict[str, Any], *, scheme_name: str, algorithms: Iterable[str]) -> None:
    """Declare DPoP (RFC 9449) and offer it wherever ``scheme_name`` is required.

    A DPoP request carries two headers: ``Authorization: DPoP <token>`` and a
    ``DPoP`` proof, so the alternative requirement names two ``apiKey``
    schemes, both required (a requirement's schemes are ANDed, the list's
    requirements ORed).  OpenAPI has no DPoP flow, and Swagger UI answers an
    ``http`` scheme named ``DPoP`` with "unsupported scheme"; as ``apiKey``
    headers it shows two fields to paste a DPoP-bound token and a fresh proof
    (``okta-bearer proof``) into.  It cannot make proofs itself.
    """
    requirement: dict[str, list[str]] = {DPOP_SCHEME_NAME: [], DPOP_PROOF_SCHEME_NAME: []}
    offered = False
    for item in schema.get("paths", {}).values():
        for method, operation in item.items():
            if method not in _METHODS:
                continue
            security = operation.get("security") or []
            if any(scheme_name in r for r in security) and requirement not in security:
                security.append(dict(requirement))
                offered = True
    if offered:
        schemes = schema.setdefault("components", {}).setdefault("securitySchemes", {})
        schemes.setdefault(
            DPOP_SCHEME_NAME,
            {
                "type": "apiKey",
                "in": "header",
                "name": "Authorization",
                "description": "A DPoP-bound access token (RFC 9449 section 7.1), sent as "
                "`Authorization: DPoP <token>`: enter `DPoP ` followed by the token.  "
                f"Goes with a proof in the `DPoP` header ({DPOP_PROOF_SCHEME_NAME}).",
            },
        )
        schemes.setdefault(
            DPOP_PROOF_SCHEME_NAME,
            {
                "type": "apiKey",
                "in": "header",
                "name": "DPoP",
                "description": "A DPoP proof (RFC 9449 section 4) for this method and URL, "
                "fresh for every request, e.g. from `okta-bearer proof`; algorithms: "
                + " ".join(algorithms),
            },
        )
