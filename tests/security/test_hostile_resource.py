"""Hostile requests against a protected resource (RFC 9728, RFC 8707, RFC 9470), one row each.

The companion of ``test_hostile_requests.py`` for a middleware configured with
``resource=``: tokens for a confusable audience, spoofed ``Host`` and
forwarded headers, other methods on the metadata path, step-up claims of the
wrong type, and claims built to break the challenge's quoting.  Every row gets
the main table's assertions (status, the challenge's ``error``,
``Cache-Control: no-store``, no token material or exception text in the answer
or the log, only the trusted issuer's documents fetched).  Because challenge
formatting is what several rows attack, every challenge is also checked
against RFC 6750 section 3's grammar: quoted parameters, each once, holding
only the characters the RFC allows, and naming this resource's metadata URL
whatever the request said about its host.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from okta_bearer import TokenVerifier

from ..web_drivers import DRIVERS, App, StepUp
from ._world import (
    ALGORITHMS,
    ISSUER,
    ISSUER_HOST,
    NOW,
    REQUIRED_SCOPE,
    World,
    assert_no_leak,
    b64,
    capture_library_logs,
    challenge_error,
    clock,
    sign_raw,
)

OK, UNAUTHORIZED, FORBIDDEN, NOT_ALLOWED = 200, 401, 403, 405
INVALID_TOKEN = "invalid_token"
INSUFFICIENT_SCOPE = "insufficient_scope"
STEP_UP = "insufficient_user_authentication"

#: The resource identifier (RFC 8707) the middleware protects; a path below the origin.
RESOURCE = "https://api.example.test/v1/mcp"
#: RFC 9728 section 3.1: the well-known suffix goes between host and path.
METADATA_PATH = "/.well-known/oauth-protected-resource/v1/mcp"
METADATA_URL = f"https://api.example.test{METADATA_PATH}"
#: The step-up route's requirement (RFC 9470).
ACR = "urn:okta:loa:2fa:any"
MAX_AGE = 300

# RFC 6750 section 3: auth-params written as quoted strings whose characters are
# %x20-21 / %x23-5B / %x5D-7E (no '"', no '\', nothing outside printable ASCII).
_PARAM = r'([a-z_]+)="([\x20\x21\x23-\x5b\x5d-\x7e]*)"'
_CHALLENGE = re.compile(rf"Bearer(?: {_PARAM}(?:, {_PARAM})*)?")
_PARAMS = re.compile(_PARAM)


@dataclass
class Call:
    """What the attacker sends: method, path, raw headers, and what must not leak."""

    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    secrets: list[str] = field(default_factory=list)
    method: str = "GET"
    path: str = "/items"


@dataclass(frozen=True)
class Case:
    """One row: a request builder and the exact expected answer."""

    id: str
    build: Callable[[World], Call]
    status: int
    error: str | None


def bearer(token: str, path: str = "/items", *extra: tuple[bytes, bytes]) -> Call:
    """A request to ``path`` with ``Authorization: Bearer <token>``."""
    return Call([(b"authorization", f"Bearer {token}".encode()), *extra], [token], path=path)


def aud(value: Any) -> Callable[[World], Call]:
    """A validly signed token with ``items:read`` whose ``aud`` is ``value``."""
    return lambda w: bearer(w.token(aud=value))


def step_up(**claims: Any) -> Callable[[World], Call]:
    """A validly signed token for the step-up route, with ``claims`` set."""
    fresh: dict[str, Any] = {"acr": ACR, "auth_time": NOW - 10, "aud": RESOURCE}
    return lambda w: bearer(w.token(**{**fresh, **claims}), "/stepup")


def step_up_raw(member: str) -> Callable[[World], Call]:
    """A step-up token whose payload ends with one raw JSON member (NaN, 1e999...)."""

    def build(w: World) -> Call:
        claims = json.dumps(w.claims(acr=ACR, aud=RESOURCE)).encode()
        payload = claims[:-1] + b", " + member.encode() + b"}"
        return bearer(sign_raw(w.rsa, {"alg": "RS256", "kid": w.rsa.kid}, payload), "/stepup")

    return build


def spoofed(*headers: tuple[bytes, bytes], path: str = "/items") -> Callable[[World], Call]:
    """A tokenless request to ``path`` carrying hostile host-describing headers."""
    return lambda w: Call(list(headers), path=path)


def metadata(method: str) -> Callable[[World], Call]:
    """``method`` on the resource's metadata path, without a token."""
    return lambda w: Call(method=method, path=METADATA_PATH)


EVIL = "attacker.example"
SPOOFS = {
    "host": [(b"host", EVIL.encode())],
    "host-with-port": [(b"host", f"{EVIL}:8443".encode())],
    "x-forwarded-host": [(b"x-forwarded-host", EVIL.encode())],
    "x-forwarded-proto-http": [(b"x-forwarded-proto", b"http")],
    "x-forwarded-all": [
        (b"x-forwarded-host", EVIL.encode()),
        (b"x-forwarded-proto", b"http"),
        (b"x-forwarded-port", b"8080"),
        (b"x-forwarded-prefix", b"/evil"),
    ],
    "forwarded": [(b"forwarded", f"for=1.2.3.4;host={EVIL};proto=http".encode())],
    "host-with-quote": [(b"host", b'api.example.test", error="x')],
}

AUDIENCE_CASES = [
    # Positive controls: the resource identifier itself, and the configured audience.
    Case("aud-is-the-resource", aud(RESOURCE), OK, None),
    Case("aud-is-the-configured-audience", aud("api://default"), OK, None),
    Case("aud-list-with-the-resource", aud(["https://other.example", RESOURCE]), OK, None),
    # RFC 8707 section 2: the audience is compared exactly, never by prefix or case.
    Case("aud-origin", aud("https://api.example.test"), UNAUTHORIZED, INVALID_TOKEN),
    Case("aud-origin-slash", aud("https://api.example.test/"), UNAUTHORIZED, INVALID_TOKEN),
    Case("aud-parent", aud("https://api.example.test/v1"), UNAUTHORIZED, INVALID_TOKEN),
    Case("aud-parent-slash", aud("https://api.example.test/v1/"), UNAUTHORIZED, INVALID_TOKEN),
    Case("aud-child", aud(f"{RESOURCE}/tools"), UNAUTHORIZED, INVALID_TOKEN),
    Case("aud-trailing-slash", aud(f"{RESOURCE}/"), UNAUTHORIZED, INVALID_TOKEN),
    Case("aud-sibling-prefix", aud(f"{RESOURCE}2"), UNAUTHORIZED, INVALID_TOKEN),
    Case("aud-upper-case-host", aud(RESOURCE.upper()), UNAUTHORIZED, INVALID_TOKEN),
    Case(
        "aud-upper-case-scheme-host",
        aud("HTTPS://API.EXAMPLE.TEST/v1/mcp"),
        UNAUTHORIZED,
        INVALID_TOKEN,
    ),
    Case(
        "aud-upper-case-path", aud("https://api.example.test/v1/MCP"), UNAUTHORIZED, INVALID_TOKEN
    ),
    Case("aud-http-scheme", aud("http://api.example.test/v1/mcp"), UNAUTHORIZED, INVALID_TOKEN),
    Case(
        "aud-default-port", aud("https://api.example.test:443/v1/mcp"), UNAUTHORIZED, INVALID_TOKEN
    ),
    Case(
        "aud-percent-encoded", aud("https://api.example.test/v1/%6Dcp"), UNAUTHORIZED, INVALID_TOKEN
    ),
    Case("aud-dot-segment", aud("https://api.example.test/v1/./mcp"), UNAUTHORIZED, INVALID_TOKEN),
    Case("aud-query", aud(f"{RESOURCE}?x=1"), UNAUTHORIZED, INVALID_TOKEN),
    Case("aud-fragment", aud(f"{RESOURCE}#top"), UNAUTHORIZED, INVALID_TOKEN),
    Case("aud-userinfo", aud("https://u@api.example.test/v1/mcp"), UNAUTHORIZED, INVALID_TOKEN),
    Case("aud-surrounding-space", aud(f" {RESOURCE} "), UNAUTHORIZED, INVALID_TOKEN),
    Case("aud-metadata-url", aud(METADATA_URL), UNAUTHORIZED, INVALID_TOKEN),
    Case("aud-the-issuer", aud(ISSUER), UNAUTHORIZED, INVALID_TOKEN),
    Case("aud-attacker-host", aud(f"https://{EVIL}/v1/mcp"), UNAUTHORIZED, INVALID_TOKEN),
    Case(
        "aud-list-of-near-misses",
        aud(["https://api.example.test", f"{RESOURCE}/", RESOURCE.upper()]),
        UNAUTHORIZED,
        INVALID_TOKEN,
    ),
    Case("aud-nested-list", aud([[RESOURCE]]), UNAUTHORIZED, INVALID_TOKEN),
    Case("aud-object", aud({"resource": RESOURCE}), UNAUTHORIZED, INVALID_TOKEN),
]

SPOOF_CASES = [
    *[
        Case(f"spoof-{name}-challenge", spoofed(*h), UNAUTHORIZED, None)
        for name, h in SPOOFS.items()
    ],
    *[
        Case(f"spoof-{name}-metadata", spoofed(*h, path=METADATA_PATH), OK, None)
        for name, h in SPOOFS.items()
    ],
]

METADATA_METHOD_CASES = [
    Case("metadata-get", metadata("GET"), OK, None),
    Case("metadata-head", metadata("HEAD"), OK, None),
    *[
        Case(f"metadata-{method.lower()}", metadata(method), NOT_ALLOWED, None)
        for method in ("POST", "PUT", "PATCH", "DELETE")
    ],
    Case(
        "metadata-post-with-a-token",
        lambda w: Call(bearer(w.token()).headers, method="POST", path=METADATA_PATH),
        NOT_ALLOWED,
        None,
    ),
]

STEP_UP_CASES = [
    Case("stepup-control", step_up(), OK, None),
    Case("stepup-acr-as-list", step_up(acr=[ACR]), UNAUTHORIZED, STEP_UP),
    Case("stepup-acr-as-object", step_up(acr={"value": ACR}), UNAUTHORIZED, STEP_UP),
    Case("stepup-acr-as-number", step_up(acr=2), UNAUTHORIZED, STEP_UP),
    Case("stepup-acr-null", step_up(acr=None), UNAUTHORIZED, STEP_UP),
    Case("stepup-acr-upper-case", step_up(acr=ACR.upper()), UNAUTHORIZED, STEP_UP),
    Case("stepup-acr-padded", step_up(acr=f" {ACR}"), UNAUTHORIZED, STEP_UP),
    Case("stepup-acr-two-values", step_up(acr=f"{ACR} urn:x"), UNAUTHORIZED, STEP_UP),
    Case("stepup-acr-deeply-nested", step_up(acr=[[[[[[[[[[ACR]]]]]]]]]]), UNAUTHORIZED, STEP_UP),
    Case("stepup-auth-time-string", step_up(auth_time=str(NOW)), UNAUTHORIZED, STEP_UP),
    Case("stepup-auth-time-true", step_up(auth_time=True), UNAUTHORIZED, STEP_UP),
    Case("stepup-auth-time-false", step_up(auth_time=False), UNAUTHORIZED, STEP_UP),
    Case("stepup-auth-time-null", step_up(auth_time=None), UNAUTHORIZED, STEP_UP),
    Case("stepup-auth-time-list", step_up(auth_time=[NOW]), UNAUTHORIZED, STEP_UP),
    Case("stepup-auth-time-object", step_up(auth_time={"t": NOW}), UNAUTHORIZED, STEP_UP),
    Case("stepup-auth-time-too-old", step_up(auth_time=NOW - MAX_AGE - 1), UNAUTHORIZED, STEP_UP),
    # A broken issuer: a non-finite or out-of-range NumericDate is no auth_time
    # (RFC 7519 section 2), never a sign-in "in the future" that any max_age accepts.
    Case("stepup-auth-time-nan", step_up_raw('"auth_time": NaN'), UNAUTHORIZED, STEP_UP),
    Case("stepup-auth-time-infinity", step_up_raw('"auth_time": Infinity'), UNAUTHORIZED, STEP_UP),
    Case("stepup-auth-time-1e999", step_up_raw('"auth_time": 1e999'), UNAUTHORIZED, STEP_UP),
    Case(
        "stepup-auth-time-400-digits", step_up_raw(f'"auth_time": {10**400}'), UNAUTHORIZED, STEP_UP
    ),
    Case(
        "stepup-auth-time-minus-infinity",
        step_up_raw('"auth_time": -Infinity'),
        UNAUTHORIZED,
        STEP_UP,
    ),
]

CHALLENGE_CASES = [
    # Claims chosen to break out of a quoted-string if anything echoed them.
    Case("challenge-quote-in-acr", step_up(acr='x", error="none'), UNAUTHORIZED, STEP_UP),
    Case("challenge-backslash-in-acr", step_up(acr="x\\"), UNAUTHORIZED, STEP_UP),
    Case("challenge-crlf-in-acr", step_up(acr="x\r\nSet-Cookie: a=b"), UNAUTHORIZED, STEP_UP),
    Case(
        "challenge-quote-in-scope",
        lambda w: bearer(w.token(scp=['items:write" error="x'])),
        FORBIDDEN,
        INSUFFICIENT_SCOPE,
    ),
    Case(
        "challenge-non-ascii-scope",
        lambda w: bearer(w.token(scp=["items:wrïte"])),
        FORBIDDEN,
        INSUFFICIENT_SCOPE,
    ),
    Case(
        "challenge-quote-in-aud",
        aud(f'{RESOURCE}", resource_metadata="https://{EVIL}/'),
        UNAUTHORIZED,
        INVALID_TOKEN,
    ),
    Case("challenge-no-token", lambda w: Call(), UNAUTHORIZED, None),
    Case(
        "challenge-other-scheme",
        lambda w: Call([(b"authorization", b'Basic realm="x", error="y"')]),
        UNAUTHORIZED,
        None,
    ),
    Case(
        "challenge-garbage-token",
        lambda w: Call([(b"authorization", b'Bearer "quoted"')]),
        400,
        "invalid_request",
    ),
    Case(
        "challenge-forged-signature",
        lambda w: bearer(w.token()[:-8] + b64(b"forged")[:8]),
        UNAUTHORIZED,
        INVALID_TOKEN,
    ),
]

CASES = [*AUDIENCE_CASES, *SPOOF_CASES, *METADATA_METHOD_CASES, *STEP_UP_CASES, *CHALLENGE_CASES]


@asynccontextmanager
async def resource_client(world: World, driver: str) -> AsyncIterator[App]:
    """The protected resource on ``driver``'s framework, with a fresh verifier.

    The verifier accepts the configured audience and the resource identifier,
    as the middleware's own default does when it builds the verifier (RFC 8707).
    ``/items`` needs the deployment's ``items:read``; ``/stepup`` also a recent
    sign-in of class ``ACR`` (RFC 9470).
    """
    verifier = TokenVerifier(
        ISSUER,
        [world.issuer.audience, RESOURCE],
        transport=world.issuer.transport(),
        algorithms=ALGORITHMS,
        clock=clock,
    )
    async with DRIVERS[driver](
        verifier,
        base_url="https://api.example.test",
        step_up=StepUp(acr_values=(ACR,), max_age=MAX_AGE, clock=clock),
        required_scopes=[REQUIRED_SCOPE],
        resource=RESOURCE,
    ) as app:
        yield app
    await verifier.aclose()


def check_challenge(response: httpx.Response, case: Case) -> None:
    """RFC 6750 section 3's grammar, and the parameters this resource always sends."""
    value = response.headers["www-authenticate"]
    assert _CHALLENGE.fullmatch(value), value
    params = _PARAMS.findall(value)
    names = [name for name, _ in params]
    assert len(names) == len(set(names)), value
    found = dict(params)
    assert found["realm"] == "api"
    # RFC 9728 section 5.1: on a 401/403, the metadata URL from configuration,
    # never from the request; a malformed request (400) is not a challenge to act on.
    if response.status_code in (UNAUTHORIZED, FORBIDDEN):
        assert found["resource_metadata"] == METADATA_URL
    else:
        assert "resource_metadata" not in found
    if case.error == STEP_UP:
        assert found["acr_values"] == ACR
        assert found["max_age"] == str(MAX_AGE)
    if case.error == INSUFFICIENT_SCOPE:
        assert found["scope"] == REQUIRED_SCOPE


def check_metadata(response: httpx.Response, method: str) -> None:
    """The document is the configured one; HEAD has no body; other methods 405 with Allow."""
    if response.status_code == NOT_ALLOWED:
        assert response.headers["allow"] == "GET, HEAD, OPTIONS"
        assert response.content == b""
        return
    assert response.headers["cache-control"].startswith("public")
    if method == "HEAD":
        assert response.content == b""
        return
    document = response.json()
    assert document["resource"] == RESOURCE
    assert document["authorization_servers"] == [ISSUER]
    assert document["bearer_methods_supported"] == ["header"]


def test_the_table_covers_every_family() -> None:
    """Each family has hostile rows, and every row has a unique name."""
    for family in (AUDIENCE_CASES, STEP_UP_CASES, CHALLENGE_CASES, SPOOF_CASES):
        assert sum(case.status != OK for case in family) >= 5
    assert len({case.id for case in CASES}) == len(CASES)


@pytest.mark.anyio
@pytest.mark.parametrize("driver", DRIVERS)
@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
async def test_hostile_resource_request(
    case: Case, driver: str, world: World, caplog: pytest.LogCaptureFixture
) -> None:
    """Every framework gives the documented answer, leaks nothing, fetches only trusted URLs."""
    capture_library_logs(caplog)
    world.issuer.requests.clear()
    call = case.build(world)
    async with resource_client(world, driver) as app:
        response = await app.request(call.method, call.path, call.headers)

    assert response.status_code == case.status
    assert challenge_error(response) == case.error
    if call.path == METADATA_PATH:
        assert "www-authenticate" not in response.headers
        check_metadata(response, call.method)
    elif case.status == OK:
        assert "www-authenticate" not in response.headers
        assert response.json() == {"sub": "alice@example.com"}
    else:
        assert response.headers["cache-control"] == "no-store"
        check_challenge(response, case)
        assert_no_leak(response, call.secrets, caplog)
    fetched = {(r.url.host, r.url.path) for r in world.issuer.requests}
    assert all(host == ISSUER_HOST for host, _ in fetched), fetched
