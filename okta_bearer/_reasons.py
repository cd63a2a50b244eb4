"""Every reason code, with its cause and its fix: the one list users and the docs read.

A refusal carries an RFC 6750 ``error`` and a machine-readable ``reason``
(:class:`~okta_bearer.BearerError`); both appear in the ``okta_bearer`` log
line and in the ``okta_bearer_requests_total`` metric.  :data:`REFUSALS` lists
every pair the library can answer with, :data:`LOG_REASONS` the ``reason`` of
every issuer-side log record.  ``docs/troubleshooting.md`` is rendered from
them (``python -m okta_bearer._reasons docs/troubleshooting.md``), and
``tests/test_reasons.py`` fails when code raises a reason missing here, or
when the page and the tables disagree.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

__all__ = ["LOG_REASONS", "REFUSALS", "Reason", "render", "update_page"]


@dataclass(frozen=True, slots=True)
class Reason:
    """One reason code: when it happens and what to do about it."""

    cause: str
    fix: str


_NEW = "Get a new token from the issuer"

#: (status, RFC 6750 error or ``None`` for a bare challenge, reason) -> cause and fix.
REFUSALS: dict[tuple[int, str | None, str], Reason] = {
    # -- 400 invalid_request: the HTTP request itself is malformed ------------------
    (400, "invalid_request", "multiple_headers"): Reason(
        "Two `Authorization` headers.", "Send exactly one."
    ),
    (400, "invalid_request", "bad_header"): Reason(
        "The `Authorization` header is not `Bearer <token>` / `DPoP <token>` (RFC 6750 b64token).",
        "Send `Authorization: Bearer <token>` with the token as issued, on one line.",
    ),
    (400, "invalid_request", "empty_token"): Reason(
        "`Authorization: Bearer` with no token.",
        "Check that the client really has a token before it calls.",
    ),
    (400, "invalid_request", "multiple_methods"): Reason(
        "A header token and an `access_token` query parameter in one request.",
        "Send the token in the header only; query-string tokens are never used.",
    ),
    (400, "invalid_request", "ambiguous_path"): Reason(
        "DPoP: the request path holds dot segments (plain or `%2E`), `//`, `%2F`, `%5C` or `\\`, "
        "so the URL the proof names could differ from the route the app serves.",
        "Call the canonical path; proxies and clients must not send unnormalised paths.",
    ),
    (400, "invalid_request", "bad_host"): Reason(
        "DPoP: the request's `Host` (or trusted forwarded header) is malformed, so `htu` "
        "cannot be checked.",
        "Behind a proxy, set `DPoPSettings(origin=...)` or `forwarded=`.",
    ),
    (400, "invalid_request", "bad_json"): Reason(
        "MCP `ToolScopes`: the body is not JSON-RPC.",
        "Send a JSON-RPC message.",
    ),
    (400, "invalid_request", "duplicate_keys"): Reason(
        "MCP `ToolScopes`: the JSON body repeats a key (parsers would disagree on it).",
        "Send each member once.",
    ),
    (400, "invalid_request", "json_too_deep"): Reason(
        "MCP `ToolScopes`: the JSON body is nested too deeply.",
        "Send a flatter message.",
    ),
    # -- 401 without an error code: no credentials -------------------------------------
    (401, None, "missing_token"): Reason(
        "No `Authorization: Bearer` (or `DPoP`) header: none at all, another scheme such "
        "as `Basic`, or a token only in the query string.",
        "Sign in and send the access token in the `Authorization` header; "
        "or list the path in `public_paths`.",
    ),
    # -- 401 invalid_token: the token is not acceptable --------------------------------
    (401, "invalid_token", "malformed"): Reason(
        "Not a compact JWS (three base64url parts), or an opaque token without "
        "an introspection verifier.",
        "Send the *access* token, not the ID token or a session cookie; for opaque tokens "
        "configure an `IntrospectionVerifier` (or `TokenShapeVerifier`).",
    ),
    (401, "invalid_token", "too_large"): Reason(
        "Longer than `max_token_size` (16 KiB by default).",
        "Raise `max_token_size` if your issuer really mints such tokens.",
    ),
    (401, "invalid_token", "bad_alg"): Reason(
        "The token's `alg` is not in `algorithms` (`none` and `HS*` never are).",
        "Pass the issuer's algorithm in `TokenVerifier(algorithms=...)` (Okta: RS256).",
    ),
    (401, "invalid_token", "crit"): Reason(
        "The token header has a `crit` member (no JWS extension is supported).",
        "Ask the issuer for tokens without critical extensions.",
    ),
    (401, "invalid_token", "bad_typ"): Reason(
        "The token's `typ` is not an access-token type (e.g. an ID token), or "
        "`require_at_jwt=True` and it is not `at+jwt`.",
        "Send the access token; or drop `require_at_jwt` for issuers without RFC 9068 `typ`.",
    ),
    (401, "invalid_token", "bad_kid"): Reason(
        "The token header has no usable `kid`.",
        "Tokens must name their signing key; check the issuer.",
    ),
    (401, "invalid_token", "unknown_kid"): Reason(
        "No key of the issuer's JWKS has the token's `kid`, even after a refetch: a token "
        "from another issuer or environment, or a forged one.",
        "Check the token's `iss` against `issuer=` (`okta-bearer decode TOKEN`).",
    ),
    (401, "invalid_token", "key_mismatch"): Reason(
        "The key named by `kid` does not fit the token's `alg`.",
        "A forged or mis-signed token: get a new one.",
    ),
    (401, "invalid_token", "bad_signature"): Reason(
        "The signature does not verify with the issuer's key: tampered or forged.",
        _NEW + ".",
    ),
    (401, "invalid_token", "missing_claim"): Reason(
        "A required claim (`iss`, `aud`, `exp`...) is missing.",
        "Use an access token of an authorization server (Okta: a custom one for JWTs).",
    ),
    (401, "invalid_token", "bad_claim"): Reason(
        "A claim has the wrong type or range (a non-numeric `exp`, a malformed scope claim).",
        "Check the issuer's claims; a `TokenProfile` maps other scope claim names.",
    ),
    (401, "invalid_token", "bad_issuer"): Reason(
        "The token's `iss` is not the configured issuer (the log shows expected and got).",
        "Set `issuer=` to the exact `iss` of your tokens (trailing slash and case count).",
    ),
    (401, "invalid_token", "bad_audience"): Reason(
        "The token's `aud` names none of the configured audiences (the log shows both).",
        "Set `audience=` to your API's audience (Okta: the authorization server's "
        "*Audience*), or ask for a token for this API.",
    ),
    (401, "invalid_token", "expired"): Reason(
        "Past `exp` (plus `leeway`).",
        "Refresh the token; check the server clock if fresh tokens fail.",
    ),
    (401, "invalid_token", "not_yet_valid"): Reason(
        "Before `nbf` (minus `leeway`).",
        "Check the server clock (NTP).",
    ),
    (401, "invalid_token", "issued_in_future"): Reason(
        "`iat` is after now plus `leeway`.",
        "Check the server clock (NTP).",
    ),
    (401, "invalid_token", "bad_lifetime"): Reason(
        "`nbf` is after `exp`.",
        "A mis-issued token: check the issuer.",
    ),
    (401, "invalid_token", "too_old"): Reason(
        "`iat` is older than `max_token_age`.",
        _NEW + ", or raise `max_token_age`.",
    ),
    (401, "invalid_token", "bad_client"): Reason(
        "The token's `cid`/`client_id` is not in `client_ids`.",
        "Add the client to `client_ids`, or call from an allowed client.",
    ),
    (401, "invalid_token", "unknown_issuer"): Reason(
        "`MultiIssuerVerifier`: the token's `iss` is none of the configured issuers.",
        "Add a verifier for that issuer, or get a token from a configured one.",
    ),
    (401, "invalid_token", "inactive"): Reason(
        "Introspection answered `active: false`: revoked, expired or unknown to the issuer.",
        _NEW + "; check that the resource server's client may introspect it.",
    ),
    (401, "invalid_token", "bad_token_type"): Reason(
        "Introspection says the token is not an access token (`token_type`).",
        "Send the access token, not a refresh or ID token.",
    ),
    (401, "invalid_token", "dpop_downgrade"): Reason(
        "A DPoP-bound token (`cnf.jkt`) sent with the `Bearer` scheme.",
        "Send it as `Authorization: DPoP <token>` with a proof (RFC 9449 section 7.2).",
    ),
    (401, "invalid_token", "uncheckable_binding"): Reason(
        "The token is bound by a confirmation this server cannot check (`cnf` other than "
        "`jkt` alone, e.g. mTLS `x5t#S256`; or an introspection answer `token_type: DPoP` "
        "without `cnf.jkt`).",
        "Use a bearer or DPoP-bound token; mTLS-bound tokens need a server that checks the "
        "client certificate.",
    ),
    (401, "invalid_token", "dpop_unbound"): Reason(
        "`Authorization: DPoP` with a token that is not DPoP-bound.",
        "Send a bearer token as `Bearer`, or ask the issuer for a DPoP-bound token.",
    ),
    (401, "invalid_token", "dpop_key_mismatch"): Reason(
        "The proof's key is not the key the token is bound to (`cnf.jkt`).",
        "Sign proofs with the key the token was issued for.",
    ),
    # -- 401 invalid_dpop_proof: the DPoP proof is wrong (RFC 9449 section 4.3) --------
    (401, "invalid_dpop_proof", "missing_proof"): Reason(
        "`Authorization: DPoP` without a `DPoP` proof header (RFC 9449 section 7.1).",
        "Send a fresh proof in the `DPoP` header with every request (RFC 9449 section 4).",
    ),
    (401, "invalid_dpop_proof", "multiple_proofs"): Reason(
        "More than one `DPoP` header (or a comma in it).",
        "Send exactly one proof.",
    ),
    (401, "invalid_dpop_proof", "malformed"): Reason(
        "The proof is not a compact JWS with JSON header and claims.",
        "Build the proof as RFC 9449 section 4.2 says (`okta_bearer.testing.DPoPKey`).",
    ),
    (401, "invalid_dpop_proof", "too_large"): Reason(
        "The proof is longer than `DPoPSettings.max_proof_size`.",
        "Send a smaller proof (no certificate chains in the header).",
    ),
    (401, "invalid_dpop_proof", "bad_typ"): Reason(
        "The proof's `typ` is not `dpop+jwt`.", "Set `typ: dpop+jwt`."
    ),
    (401, "invalid_dpop_proof", "bad_alg"): Reason(
        "The proof's `alg` is not in `DPoPSettings.algorithms`.",
        "Sign with an accepted algorithm (the challenge lists them in `algs`).",
    ),
    (401, "invalid_dpop_proof", "crit"): Reason(
        "The proof header has a `crit` member.", "Leave `crit` out."
    ),
    (401, "invalid_dpop_proof", "bad_jwk"): Reason(
        "The proof's `jwk` is missing, not a public key of the algorithm, or weak.",
        "Put the public key in the `jwk` header.",
    ),
    (401, "invalid_dpop_proof", "private_jwk"): Reason(
        "The proof's `jwk` holds private key members.",
        "Publish only the public key (and rotate the leaked one).",
    ),
    (401, "invalid_dpop_proof", "bad_signature"): Reason(
        "The proof's signature does not verify with its `jwk`.", "Sign the proof with that key."
    ),
    (401, "invalid_dpop_proof", "bad_jti"): Reason(
        "The proof's `jti` is missing or not a string.", "Give every proof a unique `jti`."
    ),
    (401, "invalid_dpop_proof", "bad_htm"): Reason(
        "The proof's `htm` is not this request's method.", "Make a proof per request."
    ),
    (401, "invalid_dpop_proof", "bad_htu"): Reason(
        "The proof's `htu` is not this request's URL (scheme, host, path).",
        "Use the URL the client calls; behind a proxy set `DPoPSettings(origin=...)`.",
    ),
    (401, "invalid_dpop_proof", "bad_iat"): Reason(
        "The proof's `iat` is missing or not a number.", "Set `iat` to the current time."
    ),
    (401, "invalid_dpop_proof", "stale_iat"): Reason(
        "The proof is older than `DPoPSettings.max_age`.",
        "Make a fresh proof per request; check the client clock.",
    ),
    (401, "invalid_dpop_proof", "future_iat"): Reason(
        "The proof's `iat` is later than now plus `leeway`.", "Check the client clock."
    ),
    (401, "invalid_dpop_proof", "bad_ath"): Reason(
        "The proof's `ath` is not the hash of this access token.",
        "Set `ath` to base64url(SHA-256(token)).",
    ),
    (401, "invalid_dpop_proof", "bad_nonce"): Reason(
        "The proof's `nonce` is not a string, or too long.",
        "Send the `DPoP-Nonce` value the server gave.",
    ),
    (401, "invalid_dpop_proof", "replayed"): Reason(
        "This proof (`jti`) was already used.",
        "Make a new proof for every request, retries included.",
    ),
    # -- 401 use_dpop_nonce (RFC 9449 section 9) ----------------------------------------
    (401, "use_dpop_nonce", "nonce_required"): Reason(
        "Server nonces are on and the proof has none.",
        "Retry with the `DPoP-Nonce` response header's value in the proof's `nonce`.",
    ),
    (401, "use_dpop_nonce", "nonce_stale"): Reason(
        "The proof's nonce is unknown or expired.",
        "Retry with the newest `DPoP-Nonce` value.",
    ),
    # -- 401 insufficient_user_authentication (RFC 9470) ---------------------------------
    (401, "insufficient_user_authentication", "acr_not_accepted"): Reason(
        "The route needs a stronger sign-in (`acr_values`) than the token's `acr`.",
        "Sign in again asking for the `acr_values` of the challenge.",
    ),
    (401, "insufficient_user_authentication", "no_auth_time"): Reason(
        "The route has `max_age` and the token has no usable `auth_time`.",
        "Ask the issuer to include `auth_time` (OIDC `max_age` request).",
    ),
    (401, "insufficient_user_authentication", "auth_too_old"): Reason(
        "The sign-in behind the token is older than the route's `max_age`.",
        "Sign in again with `max_age` from the challenge.",
    ),
    # -- 403 insufficient_scope ----------------------------------------------------------
    (403, "insufficient_scope", "missing_scope"): Reason(
        "The token is valid but lacks a required scope (the log lists the missing ones).",
        "Ask for the scope when getting the token, and grant it to the client at the issuer.",
    ),
    # -- 503 temporarily_unavailable: our side, with Retry-After ------------------------
    (503, "temporarily_unavailable", "keys_unavailable"): Reason(
        "The issuer's keys cannot be fetched (cold start, issuer down past `max_stale`, "
        "or an unknown `kid` while it fails); see the `keys_refresh_failed` log line.",
        "Check the issuer URL and that this host reaches it; the start-up check "
        "logs the cause at ERROR.",
    ),
    (503, "temporarily_unavailable", "introspection_unavailable"): Reason(
        "The introspection endpoint failed (timeout, non-200, bad answer, refused credentials).",
        "See the `introspection_unavailable` / `client_auth_refused` log line.",
    ),
    (503, "temporarily_unavailable", "replay_store_unavailable"): Reason(
        "The DPoP replay store (Redis) cannot answer and `store_failure` is `fail_closed`.",
        'Bring the store back; `store_failure="fail_open"` trades replay checks for uptime.',
    ),
}

#: ``reason`` of the issuer-side log records (no request refused by them alone).
LOG_REASONS: dict[str, Reason] = {
    "startup_check_failed": Reason(
        "Lifespan start-up could not fetch the issuer's metadata or keys (ERROR, with a hint).",
        'Fix what the hint names; `startup_check="exit"` makes this stop the server.',
    ),
    "issuer_mismatch": Reason(
        "The issuer's metadata names another issuer than `issuer=` (ERROR, with a hint).",
        "Copy the metadata's `issuer` exactly.",
    ),
    "keys_refresh_failed": Reason(
        "A discovery or JWKS fetch failed; the last good keys keep serving (WARNING).",
        "Check the issuer's availability; requests get 503 once no keys are left.",
    ),
    "keys_refresh_cancelled": Reason(
        "A key fetch was cancelled (shutdown).", "Nothing, at shutdown."
    ),
    "keys_withdrawn": Reason(
        "A refresh no longer lists keys; tokens they signed are dropped from the cache (INFO).",
        "Nothing: the issuer rotated its keys.",
    ),
    "store_unavailable": Reason(
        "The shared store (Redis) failed while coordinating a key fetch (WARNING).",
        "Check Redis; each process fetches its own keys meanwhile.",
    ),
    "introspection_unavailable": Reason(
        "An introspection or its discovery failed (WARNING); requests get 503.",
        "Check the issuer's introspection endpoint and the network.",
    ),
    "introspection_budget": Reason(
        "New opaque tokens were refused (503) because the introspection call budget "
        "(`max_rate` a second, `max_concurrent` at once) was spent, e.g. by a flood of "
        "random tokens (WARNING, at most every 10 s).",
        "If the traffic is legitimate, raise `max_rate` (keep it below the issuer's own "
        "rate limit); cached answers keep working meanwhile.",
    ),
    "introspection_token_refused": Reason(
        "The introspection endpoint answered 400/413/414/422 to one token; that token is "
        "treated as not active (401) and nothing backs off (INFO).",
        "Nothing, unless valid tokens are affected: then check what the issuer says of them.",
    ),
    "client_auth_refused": Reason(
        "The introspection endpoint refused this API's client credentials (ERROR).",
        "Check `client_id`, the secret or key, and `auth_method`.",
    ),
}

_BEGIN = "<!-- reason codes: generated by okta_bearer/_reasons.py, do not edit below -->"
_END = "<!-- end of generated reason codes -->"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def render() -> str:
    """The generated part of ``docs/troubleshooting.md``: both tables, in Markdown."""
    lines = [
        _BEGIN,
        "",
        "### Refusals",
        "",
        "| status | `error` | `reason` | cause | fix |",
        "| --- | --- | --- | --- | --- |",
    ]
    for (status, error, reason), row in REFUSALS.items():
        shown = f"`{error}`" if error else "none (bare challenge)"
        lines.append(f"| {status} | {shown} | `{reason}` | {_cell(row.cause)} | {_cell(row.fix)} |")
    lines += ["", "### Log records of the issuer side", ""]
    lines += ["| `reason` | cause | fix |", "| --- | --- | --- |"]
    for reason, row in LOG_REASONS.items():
        lines.append(f"| `{reason}` | {_cell(row.cause)} | {_cell(row.fix)} |")
    return "\n".join([*lines, "", _END])


def update_page(text: str) -> str:
    """``text`` (a Markdown page) with its generated block replaced by :func:`render`."""
    head, found, rest = text.partition(_BEGIN)
    if not found:
        return text.rstrip("\n") + "\n\n" + render() + "\n"
    _, found, tail = rest.partition(_END)
    if not found:
        raise ValueError(f"the page has {_BEGIN!r} but not {_END!r}")
    return head + render() + tail


if __name__ == "__main__":  # python -m okta_bearer._reasons docs/troubleshooting.md
    page = Path(sys.argv[1])
    page.write_text(update_page(page.read_text(encoding="utf-8")), encoding="utf-8")
