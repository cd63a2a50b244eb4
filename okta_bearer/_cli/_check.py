"""``okta-bearer check``: discovery, keys and (with a token) every check, one line each.

Each line says ``ok``, ``FAIL`` or ``--`` (not applicable), what was checked and,
on failure, what was expected and what was found.  The last line is the verdict
of a real :class:`~okta_bearer.TokenVerifier` configured the same way, so the
report can never pass a token the library would refuse.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import binascii
import json
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TextIO
from urllib.parse import urlsplit

import httpx

from .._config import is_loopback_url
from .._errors import BearerError, ConfigurationError, InvalidToken, KeysUnavailable
from .._jwt.jwk import JWKError, SignatureCheck, build_keys
from .._opaque.issuers import unverified_issuer
from ._common import EXIT_OK, EXIT_REJECTED, EXIT_UNREACHABLE, CLIError
from ._tokens import (
    IssuerOption,
    bound_note,
    describe_refusal,
    issuer_options,
    make_verifier,
    read_token,
)

OK, FAIL, NA = "ok", "FAIL", "--"
Keys = dict[str, dict[str, SignatureCheck]]


@dataclass(frozen=True)
class Line:
    """One row of the report."""

    status: str
    name: str
    detail: str

    def render(self) -> str:
        """The row as printed: status, check name, detail."""
        return f"{self.status:<4}  {self.name:<10} {self.detail}"


def _when(value: float, now: float) -> str:
    moment = datetime.fromtimestamp(value, tz=UTC).isoformat(timespec="seconds")
    delta = int(value - now)
    relative = f"in {delta} s" if delta >= 0 else f"{-delta} s ago"
    return f"{moment.replace('+00:00', 'Z')} ({relative})"


def _number(payload: dict[str, Any], name: str) -> float | None:
    value = payload.get(name)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def claim_lines(
    payload: dict[str, Any],
    *,
    issuer: str,
    audiences: Sequence[str],
    leeway: float,
    now: float,
    client_ids: Sequence[str] = (),
    scopes: Sequence[str] = (),
) -> list[Line]:
    """Judge each claim on its own (pure): iss, aud, exp, nbf, iat, cid, scopes."""
    lines: list[Line] = []
    iss = payload.get("iss")
    if iss == issuer:
        lines.append(Line(OK, "iss", repr(iss)))
    else:
        lines.append(
            Line(FAIL, "iss", f"expected {issuer!r}, got {iss!r}{_issuer_hint(issuer, iss)}")
        )

    aud = payload.get("aud")
    got = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else None
    if got is not None and any(a in audiences for a in got):
        lines.append(Line(OK, "aud", repr(aud)))
    else:
        wanted = " or ".join(repr(a) for a in audiences)
        lines.append(Line(FAIL, "aud", f"expected {wanted}, got {aud!r}"))

    exp = _number(payload, "exp")
    if exp is None:
        lines.append(Line(FAIL, "exp", f"expected a NumericDate, got {payload.get('exp')!r}"))
    elif now >= exp + leeway:
        lines.append(Line(FAIL, "exp", f"expired at {_when(exp, now)}, leeway {leeway:g} s"))
    else:
        lines.append(Line(OK, "exp", f"expires {_when(exp, now)}"))

    nbf = _number(payload, "nbf")
    if "nbf" not in payload:
        lines.append(Line(NA, "nbf", "absent"))
    elif nbf is None or nbf > now + leeway:
        shown = payload["nbf"] if nbf is None else _when(nbf, now)
        lines.append(Line(FAIL, "nbf", f"not valid before {shown}"))
    elif exp is not None and nbf > exp:
        lines.append(Line(FAIL, "nbf", f"expected before exp, got {_when(nbf, now)}"))
    else:
        lines.append(Line(OK, "nbf", f"valid since {_when(nbf, now)}"))

    iat = _number(payload, "iat")
    if "iat" not in payload:
        lines.append(Line(NA, "iat", "absent"))
    elif iat is None or iat > now + leeway:
        shown = payload["iat"] if iat is None else _when(iat, now)
        lines.append(Line(FAIL, "iat", f"expected a past time, got {shown}"))
    else:
        lines.append(Line(OK, "iat", f"issued {_when(iat, now)}"))

    cid = payload.get("cid", payload.get("client_id"))
    if not client_ids:
        lines.append(Line(NA, "cid", f"{cid!r} (any client accepted)"))
    elif cid in client_ids:
        lines.append(Line(OK, "cid", repr(cid)))
    else:
        wanted = " or ".join(repr(c) for c in client_ids)
        lines.append(Line(FAIL, "cid", f"expected {wanted}, got {cid!r}"))

    granted = _scopes(payload)
    shown = " ".join(sorted(granted)) or "none"
    missing = [s for s in scopes if s not in granted]
    if not scopes:
        lines.append(Line(NA, "scopes", f"token holds: {shown}"))
    elif missing:
        lines.append(
            Line(FAIL, "scopes", f"expected {' '.join(scopes)}, missing {' '.join(missing)}; "
                 f"token holds: {shown}")
        )  # fmt: skip
    else:
        lines.append(Line(OK, "scopes", f"holds {' '.join(scopes)}"))
    return lines


def _scopes(payload: dict[str, Any]) -> set[str]:
    scp = payload.get("scp", payload.get("scope"))
    if isinstance(scp, str):
        return set(scp.split(" ")) - {""}
    if isinstance(scp, list):
        return {s for s in scp if isinstance(s, str)}
    return set()


def _issuer_hint(expected: str, got: object) -> str:
    if not isinstance(got, str):
        return ""
    if expected.rstrip("/") == got.rstrip("/"):
        return " (they differ only by a trailing slash)"
    if "/oauth2/" in expected and "/oauth2/" not in got:
        return " (the token is from the org authorization server, not a custom one)"
    if "/oauth2/" in got and "/oauth2/" not in expected:
        return " (the token is from a custom authorization server, not the org one)"
    return ""


def _b64json(segment: str) -> Any:
    return json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))


class _Report:
    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.failed = False

    def add(self, line: Line) -> None:
        self.failed |= line.status == FAIL
        print(line.render(), file=self.out, flush=True)


def _discovery_urls(issuer: str) -> list[str]:
    """Where TokenVerifier looks, in its order (RFC 8414 section 3, Okta, OpenID Connect)."""
    base = issuer.rstrip("/")
    parts = urlsplit(base)
    urls = [
        f"{base}/.well-known/oauth-authorization-server",
        f"{base}/.well-known/openid-configuration",
    ]
    if parts.path:
        urls.append(
            f"{parts.scheme}://{parts.netloc}/.well-known/oauth-authorization-server{parts.path}"
        )
    return urls


async def _get(http: httpx.AsyncClient, url: str) -> tuple[int, object]:
    response = await http.get(url)
    try:
        return response.status_code, response.json()
    except ValueError:
        return response.status_code, None


async def _discover(http: httpx.AsyncClient, issuer: str, report: _Report) -> str | None:
    for url in _discovery_urls(issuer):
        status, doc = await _get(http, url)
        if 400 <= status < 500:
            report.add(Line(NA, "discovery", f"{url}: HTTP {status}, trying the next location"))
            continue
        if status != 200 or not isinstance(doc, dict):
            report.add(Line(FAIL, "discovery", f"{url}: HTTP {status}, expected a JSON object"))
            return None
        named = doc.get("issuer")
        if named != issuer:
            hint = _issuer_hint(issuer, named)
            report.add(
                Line(FAIL, "discovery", f"{url}: expected issuer {issuer!r}, got {named!r}{hint}")
            )
            return None
        jwks_uri = doc.get("jwks_uri")
        if not isinstance(jwks_uri, str) or urlsplit(jwks_uri).scheme not in ("https", "http"):
            report.add(Line(FAIL, "discovery", f"{url}: expected a jwks_uri, got {jwks_uri!r}"))
            return None
        if urlsplit(jwks_uri).scheme == "http" and not is_loopback_url(jwks_uri):
            detail = f"{url}: expected an https jwks_uri (http only on loopback), got {jwks_uri}"
            report.add(Line(FAIL, "discovery", detail))
            return None
        report.add(Line(OK, "discovery", f"{url}: issuer matches, jwks_uri {jwks_uri}"))
        return jwks_uri
    report.add(Line(FAIL, "discovery", "no metadata document found"))
    return None


async def _keys(
    http: httpx.AsyncClient, jwks_uri: str, algorithms: Sequence[str], report: _Report
) -> Keys:
    status, doc = await _get(http, jwks_uri)
    try:
        if status != 200:
            raise JWKError(f"HTTP {status}")
        usable = build_keys(doc, algorithms)  # exactly what TokenVerifier would use
    except JWKError as exc:
        report.add(Line(FAIL, "keys", f"{jwks_uri}: expected a JWK Set, got {exc}"))
        return {}
    members = doc.get("keys", []) if isinstance(doc, dict) else []
    listed = [m.get("kid") for m in members if isinstance(m, dict)]
    skipped = [repr(kid) for kid in listed if kid not in usable]
    shown = ", ".join(f"{kid} ({' '.join(checks)})" for kid, checks in usable.items())
    detail = f"{jwks_uri}: {len(usable)} usable signing key(s)"
    detail += f": {shown}" if shown else f" for {' '.join(algorithms)}"
    if skipped:
        detail += f"; not usable here: {', '.join(skipped)}"
    report.add(Line(OK if usable else FAIL, "keys", detail))
    return usable


def _token_lines(
    token: str, keys: Keys, args: argparse.Namespace, option: IssuerOption, report: _Report
) -> None:
    algorithms = tuple(args.algorithm or ("RS256",))
    parts = token.split(".")
    try:
        if len(parts) != 3:
            raise ValueError
        header, payload = _b64json(parts[0]), _b64json(parts[1])
        if not isinstance(header, dict) or not isinstance(payload, dict):
            raise ValueError
    except (ValueError, binascii.Error, UnicodeDecodeError):
        report.add(Line(FAIL, "format", "expected a compact JWS of JSON (3 base64url parts)"))
        return
    alg, kid = header.get("alg"), header.get("kid")
    if alg in algorithms:
        report.add(Line(OK, "alg", repr(alg)))
    else:
        report.add(Line(FAIL, "alg", f"expected {' or '.join(algorithms)}, got {alg!r}"))
    checks = keys.get(kid) if isinstance(kid, str) else None
    if checks is None:
        published = ", ".join(keys) or "none"
        report.add(Line(FAIL, "kid", f"expected one of {published}, got {kid!r}"))
        report.add(Line(NA, "signature", "no key to check it with"))
    elif not isinstance(alg, str) or alg not in checks:
        report.add(Line(FAIL, "kid", f"{kid!r} is published for {' '.join(checks)}, not {alg!r}"))
        report.add(Line(NA, "signature", "no key to check it with"))
    else:
        report.add(Line(OK, "kid", repr(kid)))
        signing_input = f"{parts[0]}.{parts[1]}".encode("ascii", "replace")
        try:
            signature = base64.urlsafe_b64decode(parts[2] + "=" * (-len(parts[2]) % 4))
            valid = checks[alg](signing_input, signature)
        except (ValueError, binascii.Error):
            valid = False
        report.add(Line(OK, "signature", "valid") if valid else Line(FAIL, "signature", "invalid"))
    for line in claim_lines(
        payload,
        issuer=option.issuer,
        audiences=option.audiences,
        leeway=args.leeway,
        now=time.time(),
        client_ids=args.client_id,
        scopes=args.scope,
    ):
        report.add(line)


def _route(token: str, options: list[IssuerOption], report: _Report) -> IssuerOption | None:
    """The issuer option the token's unverified iss names, as MultiIssuerVerifier routes."""
    try:
        iss: str | None = unverified_issuer(token)
    except InvalidToken:
        iss = None
    for option in options:
        if option.issuer == iss:
            report.add(Line(OK, "route", f"iss {iss!r} is a configured issuer"))
            return option
    wanted = " or ".join(repr(o.issuer) for o in options)
    report.add(Line(FAIL, "route", f"expected an iss of {wanted}, got {iss!r}"))
    return None


def _verdict(token: str, args: argparse.Namespace, out: TextIO) -> int:
    async def run() -> str | None:
        async with make_verifier(args) as verifier:
            return (await verifier.verify(token, tuple(args.scope))).binding

    try:
        binding = asyncio.run(run())
    except BearerError as exc:
        print(f"verdict: {describe_refusal(exc)}", file=out)
        return EXIT_UNREACHABLE if isinstance(exc, KeysUnavailable) else EXIT_REJECTED
    if binding is not None:
        print(f"verdict: accepted, but {bound_note(binding)}", file=out)
    else:
        print("verdict: accepted", file=out)
    return EXIT_OK


def cmd_check(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Check the issuer's discovery and keys, and with ``--token`` every check on the token."""
    token = read_token(args.token, sys.stdin) if args.token is not None else None
    try:
        make_verifier(args)  # configuration mistakes are usage errors, before any request
    except ConfigurationError as exc:
        raise CLIError(f"configuration error: {exc}") from exc
    options = issuer_options(args)
    report = _Report(out)

    async def fetch_one(http: httpx.AsyncClient, option: IssuerOption) -> Keys:
        if len(options) > 1:
            audiences = " or ".join(option.audiences)
            report.add(Line(NA, "issuer", f"{option.issuer} (audience {audiences})"))
        jwks_uri = args.jwks_uri
        if jwks_uri is None:
            jwks_uri = await _discover(http, option.issuer, report)
        else:
            report.add(Line(NA, "discovery", f"skipped: --jwks-uri {jwks_uri}"))
        if jwks_uri is None:
            return {}
        return await _keys(http, jwks_uri, tuple(args.algorithm or ("RS256",)), report)

    async def fetch() -> dict[str, Keys]:
        async with httpx.AsyncClient(timeout=args.timeout, follow_redirects=False) as http:
            return {option.issuer: await fetch_one(http, option) for option in options}

    try:
        keys = asyncio.run(fetch())
    except httpx.HTTPError as exc:
        report.add(Line(FAIL, "fetch", f"cannot reach the issuer: {type(exc).__name__} {exc}"))
        return EXIT_UNREACHABLE
    if token is None:
        return EXIT_REJECTED if report.failed else EXIT_OK
    option = options[0] if len(options) == 1 else _route(token, options, report)
    if option is not None:
        _token_lines(token, keys[option.issuer], args, option, report)
    status = _verdict(token, args, out)
    return status if status != EXIT_OK or not report.failed else EXIT_REJECTED
