"""``verify`` and ``decode`` a token; ``mint`` and ``rotate`` on a running dev issuer."""

from __future__ import annotations

import argparse
import asyncio
import base64
import binascii
import json
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TextIO

import httpx

from .._config import KeyPolicy
from .._errors import BearerError, ConfigurationError, KeysUnavailable
from .._jwt.binding import DPOP_KEY
from .._jwt.verifier import TokenVerifier
from .._opaque.issuers import MultiIssuerVerifier
from ._common import EXIT_OK, EXIT_REJECTED, EXIT_UNREACHABLE, CLIError
from ._dpop import load_key


def read_token(value: str, stdin: TextIO) -> str:
    """The token given on the command line, or read from stdin for ``-``; ``Bearer`` stripped."""
    token = stdin.read().strip() if value == "-" else value.strip()
    if token.lower().startswith("bearer "):
        token = token[7:].strip()
    if not token:
        raise CLIError("no token given")
    return token


def _jsonable(value: object) -> object:
    """Claims hold read-only mappings and tuples; print them as JSON objects and arrays."""
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, Iterable):
        return list(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


@dataclass(frozen=True)
class IssuerOption:
    """One ``--issuer`` and the audiences it accepts (its own and the shared ones)."""

    issuer: str
    audiences: tuple[str, ...]


def issuer_options(args: argparse.Namespace) -> list[IssuerOption]:
    """The issuers of ``verify``/``check``: ``--audience`` before the first ``--issuer``
    is shared, one after an ``--issuer`` belongs to it (in addition).

    Raises:
        CLIError: an issuer given twice or without any audience, or
            ``--jwks-uri`` with several issuers (exit status 2).
    """
    shared: list[str] = []
    own: dict[str, list[str]] = {}
    current: str | None = None
    for option, value in args.order:
        if option == "issuer":
            if value in own:
                raise CLIError(f"--issuer {value} is given twice")
            own[value], current = [], value
        elif current is None:
            shared.append(value)
        else:
            own[current].append(value)
    found = []
    for issuer, audiences in own.items():
        accepted = tuple(dict.fromkeys([*shared, *audiences]))
        if not accepted:
            raise CLIError(
                f"--issuer {issuer} has no audience: put --audience after it, "
                "or before the first --issuer to share it"
            )
        found.append(IssuerOption(issuer, accepted))
    if len(found) > 1 and args.jwks_uri:
        raise CLIError("--jwks-uri needs a single --issuer (with several, keys are discovered)")
    return found


def make_verifier(args: argparse.Namespace) -> TokenVerifier | MultiIssuerVerifier:
    """The verifier ``verify`` and ``check`` options describe: a TokenVerifier for one
    issuer, a MultiIssuerVerifier routing by ``iss`` for several."""
    options: dict[str, Any] = {"leeway": args.leeway, "keys": KeyPolicy(timeout=args.timeout)}
    if args.jwks_uri:
        options["jwks_uri"] = args.jwks_uri
    if args.algorithm:
        options["algorithms"] = tuple(args.algorithm)
    if args.client_id:
        options["client_ids"] = tuple(args.client_id)
    verifiers = [
        TokenVerifier(option.issuer, option.audiences, **options) for option in issuer_options(args)
    ]
    return verifiers[0] if len(verifiers) == 1 else MultiIssuerVerifier(verifiers)


def describe_refusal(exc: BearerError) -> str:
    """``rejected: error (reason): description``, then the operator context, one per line."""
    lines = [f"rejected: {exc.error or 'missing_token'} ({exc.reason}): {exc.description}"]
    lines += [f"  {name}: {value}" for name, value in exc.context.items()]
    return "\n".join(lines)


def cmd_verify(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Verify a token against its issuer; print its claims, or why it was rejected."""
    token = read_token(args.token, sys.stdin)

    async def run() -> tuple[dict[str, Any], str | None]:
        async with make_verifier(args) as verifier:
            claims = await verifier.verify(token, tuple(args.scope))
        return dict(claims.raw), claims.binding

    try:
        payload, binding = asyncio.run(run())
    except ConfigurationError as exc:
        raise CLIError(f"configuration error: {exc}") from exc
    except BearerError as exc:
        print(describe_refusal(exc), file=err)
        return EXIT_UNREACHABLE if isinstance(exc, KeysUnavailable) else EXIT_REJECTED
    if binding is not None:
        print(f"note: {bound_note(binding)}", file=err)
    print(json.dumps(payload, indent=2, sort_keys=True, default=_jsonable), file=out)
    return EXIT_OK


def bound_note(binding: str) -> str:
    """What a sender-constrained token's acceptance means (RFC 9449 section 7.2)."""
    if binding == DPOP_KEY:
        return (
            "the token is bound to a DPoP key (cnf.jkt): an API accepts it only as "
            "'Authorization: DPoP' with a proof signed by that key, never as Bearer"
        )
    return (
        "the token is bound by a confirmation method okta_bearer cannot check (cnf): "
        "an API refuses it on every path"
    )


def _b64json(segment: str, what: str) -> Any:
    try:
        raw = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
        return json.loads(raw)
    except (binascii.Error, ValueError) as exc:
        raise CLIError(f"the {what} is not base64url-encoded JSON", EXIT_REJECTED) from exc


def cmd_decode(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Print a token's header and claims, marked UNVERIFIED."""
    token = read_token(args.token, sys.stdin)
    parts = token.split(".")
    if len(parts) != 3:
        raise CLIError(f"not a compact JWS: expected 3 parts, got {len(parts)}", EXIT_REJECTED)
    document = {
        "UNVERIFIED": "decoded only: signature, issuer, audience and expiry were NOT checked",
        "header": _b64json(parts[0], "header"),
        "claims": _b64json(parts[1], "payload"),
    }
    print("UNVERIFIED token contents (use `okta-bearer verify` to check it):", file=err)
    print(json.dumps(document, indent=2, sort_keys=True), file=out)
    return EXIT_OK


def _admin_post(issuer: str, path: str, body: dict[str, Any], timeout: float) -> dict[str, Any]:
    url = issuer.rstrip("/") + path
    try:
        response = httpx.post(url, json=body, timeout=timeout)
    except httpx.HTTPError as exc:
        raise CLIError(
            f"cannot reach the dev issuer at {issuer} ({type(exc).__name__}); "
            "is `okta-bearer dev-issuer` (or `okta-bearer demo`) running?",
            EXIT_UNREACHABLE,
        ) from exc
    try:
        data = response.json()
    except ValueError:
        data = None
    if response.status_code != 200 or not isinstance(data, dict):
        detail = data.get("error_description") if isinstance(data, dict) else None
        raise CLIError(
            f"the dev issuer answered {response.status_code} to {path}: {detail or 'no details'}",
            EXIT_REJECTED,
        )
    return data


def _mint_body(args: argparse.Namespace) -> dict[str, Any]:
    """The ``/dev/mint`` request the ``mint`` options describe.

    With ``--dpop-key`` the key's RFC 7638 thumbprint is computed here and sent
    as ``jkt``, so the token is bound to the key (RFC 9449 section 6); the
    private key never leaves this machine.
    """
    body: dict[str, Any] = {"scopes": args.scope or ["openid", "items:read"]}
    if args.client_token:
        body["user"] = None
    elif args.user:
        body["user"] = args.user
    for field, value in (
        ("client_id", args.client_id),
        ("expires_in", args.expires_in),
        ("audience", args.audience),
        ("resource", args.resource),
    ):
        if value is not None:
            body[field] = value
    if args.opaque:
        body["opaque"] = True
    if args.dpop_key is not None:
        body["jkt"] = load_key(args.dpop_key).jkt
    return body


def cmd_mint(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Print an access token minted by a running dev issuer."""
    if args.audience is not None and args.resource is not None:
        raise CLIError("give --audience or --resource, not both")
    data = _admin_post(args.issuer, "/dev/mint", _mint_body(args), args.timeout)
    print(json.dumps(data, indent=2) if args.json else data["access_token"], file=out)
    return EXIT_OK


def cmd_rotate(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Rotate a running dev issuer's signing key."""
    data = _admin_post(args.issuer, "/dev/rotate", {"keep_old": not args.drop_old}, args.timeout)
    print(f"now signing with kid {data['kid']}; published: {', '.join(data['kids'])}", file=out)
    return EXIT_OK
