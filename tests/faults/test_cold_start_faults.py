"""With no keys cached, every kind of key-server fault ends in 503 + Retry-After, fast.

A valid token is never told it is invalid because the issuer misbehaves
(RFC 6750 leaves server faults to HTTP: 503): the answer is 503 ``temporarily_unavailable`` with
a ``Retry-After``, redirects are never followed, and no request waits much
longer than the configured ``timeout`` (0.2 s here).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from dataclasses import dataclass

import anyio
import httpx
import pytest

from ..web_drivers import DRIVERS
from ._keyserver import (
    EVIL_HOST,
    ISSUER,
    Fault,
    FaultyKeyServer,
    body,
    json_doc,
    never_answers,
    raises,
    redirect,
    status,
    streamed,
    world,
)

TEN_MB = 10 * 1024 * 1024


@dataclass(frozen=True)
class ColdFault:
    """A fault on one endpoint, applied before the first request."""

    id: str
    kind: str
    make: Callable[[FaultyKeyServer], Fault]


def weak_jwks(server: FaultyKeyServer) -> Fault:
    """A JWKS whose only key is a 1024-bit RSA key (unusable)."""
    from okta_bearer.testing import SigningKey

    weak = SigningKey.generate("RS256", key_size=1024)
    return json_doc({"keys": [weak.public_jwk]})


def wrong_types(server: FaultyKeyServer, **changes: object) -> Fault:
    """The issuer's JWKS with members of the wrong JSON type in every key."""
    return json_doc({"keys": [{**k, **changes} for k in server.issuer.jwks()["keys"]]})


# Hostile JSON numbers (item 4 of the issue): huge, overflowing, NaN, negative, boolean.
HUGE = "9" * 400
HOSTILE_NUMBERS = {"huge": HUGE, "1e400": "1e400", "nan": "NaN", "negative": "-1", "bool": "true"}


def raw_members(document: dict[str, object], **raw: str) -> bytes:
    """``document`` as JSON text with members replaced by raw JSON tokens (numbers json.dumps
    cannot write, such as 1e400 or a 400-digit integer)."""
    text = json.dumps({**document, **{name: f"@{name}@" for name in raw}})
    for name, token in raw.items():
        text = text.replace(f'"@{name}@"', token)
    return text.encode()


def hostile_jwks(server: FaultyKeyServer, member: str, token: str) -> Fault:
    """The issuer's JWKS with ``member`` of every key replaced by a hostile JSON number."""
    keys = [raw_members(k, **{member: token}).decode() for k in server.issuer.jwks()["keys"]]
    return body(('{"keys": [' + ", ".join(keys) + "]}").encode())


def hostile_metadata(server: FaultyKeyServer, member: str, token: str) -> Fault:
    """The issuer's metadata with ``member`` replaced by a hostile JSON number."""
    return body(raw_members(server.issuer.metadata(), **{member: token}))


NUMBER_FAULTS = [
    ColdFault(
        f"jwks-{member}-{name}",
        "jwks",
        functools.partial(hostile_jwks, member=member, token=token),
    )
    for member in ("kid", "kty", "n", "e", "alg", "use", "key_ops")
    for name, token in HOSTILE_NUMBERS.items()
] + [
    ColdFault(
        f"discovery-{member}-{name}",
        "discovery",
        functools.partial(hostile_metadata, member=member, token=token),
    )
    for member in ("issuer", "jwks_uri")
    for name, token in HOSTILE_NUMBERS.items()
]

COLD_FAULTS = [
    ColdFault("discovery-500", "discovery", lambda s: status(500)),
    ColdFault("discovery-503", "discovery", lambda s: status(503, **{"retry-after": "3600"})),
    ColdFault("discovery-404-everywhere", "discovery", lambda s: status(404)),
    ColdFault("discovery-302-other-host", "discovery", lambda s: redirect(f"https://{EVIL_HOST}/")),
    ColdFault("discovery-read-timeout", "discovery", lambda s: raises(httpx.ReadTimeout)),
    ColdFault("discovery-connect-error", "discovery", lambda s: raises(httpx.ConnectError)),
    ColdFault("discovery-never-answers", "discovery", never_answers),
    ColdFault("discovery-garbage", "discovery", lambda s: body(b"<html>oops</html>")),
    ColdFault("discovery-json-array", "discovery", lambda s: json_doc([ISSUER])),
    ColdFault(
        "discovery-other-issuer",
        "discovery",
        lambda s: json_doc({**s.issuer.metadata(), "issuer": "https://evil.example/"}),
    ),
    ColdFault(
        "discovery-no-jwks-uri",
        "discovery",
        lambda s: json_doc({k: v for k, v in s.issuer.metadata().items() if k != "jwks_uri"}),
    ),
    ColdFault(
        "discovery-jwks-uri-plain-http",
        "discovery",
        lambda s: json_doc({**s.issuer.metadata(), "jwks_uri": f"http://{EVIL_HOST}/keys"}),
    ),
    ColdFault("discovery-10mb", "discovery", lambda s: body(b" " * TEN_MB)),
    ColdFault(
        "discovery-jwks-uri-invalid",
        "discovery",
        lambda s: json_doc({**s.issuer.metadata(), "jwks_uri": "https://[::1/keys"}),
    ),
    ColdFault(
        "discovery-jwks-uri-not-a-string",
        "discovery",
        lambda s: json_doc({**s.issuer.metadata(), "jwks_uri": ["https://a.example/keys"]}),
    ),
    ColdFault(
        "discovery-jwks-uri-dns-name-starting-127",
        "discovery",
        lambda s: json_doc({**s.issuer.metadata(), "jwks_uri": f"http://127.{EVIL_HOST}/keys"}),
    ),
    ColdFault("discovery-unexpected-exception", "discovery", lambda s: raises(RuntimeError)),
    ColdFault("jwks-500", "jwks", lambda s: status(500)),
    ColdFault("jwks-404", "jwks", lambda s: status(404)),
    ColdFault("jwks-302-other-host", "jwks", lambda s: redirect(f"https://{EVIL_HOST}/keys")),
    ColdFault("jwks-read-timeout", "jwks", lambda s: raises(httpx.ReadTimeout)),
    ColdFault("jwks-connect-error", "jwks", lambda s: raises(httpx.ConnectError)),
    ColdFault("jwks-never-answers", "jwks", never_answers),
    ColdFault("jwks-garbage-json", "jwks", lambda s: body(b'{"keys": [')),
    ColdFault("jwks-not-utf8", "jwks", lambda s: body(b"\xff\xfe\x00")),
    ColdFault("jwks-keys-missing", "jwks", lambda s: json_doc({"kys": []})),
    ColdFault("jwks-keys-not-a-list", "jwks", lambda s: json_doc({"keys": {"k": "v"}})),
    ColdFault("jwks-keys-empty", "jwks", lambda s: json_doc({"keys": []})),
    ColdFault("jwks-keys-junk-members", "jwks", lambda s: json_doc({"keys": [1, "a", None]})),
    ColdFault("jwks-only-weak-key", "jwks", weak_jwks),
    ColdFault("jwks-crv-of-the-wrong-type", "jwks", lambda s: wrong_types(s, kty="EC", crv=[])),
    ColdFault("jwks-kty-of-the-wrong-type", "jwks", lambda s: wrong_types(s, kty={"a": 1})),
    ColdFault("jwks-n-of-the-wrong-type", "jwks", lambda s: wrong_types(s, n=12)),
    ColdFault("jwks-unexpected-exception", "jwks", lambda s: raises(LookupError)),
    ColdFault(
        "jwks-keys-nested-lists", "jwks", lambda s: body(json.dumps({"keys": [[[[]]]]}).encode())
    ),
    ColdFault("jwks-recursion-bomb", "jwks", lambda s: body(b"[" * 100_000 + b"]" * 100_000)),
    ColdFault("jwks-10mb-declared", "jwks", lambda s: body(b" " * TEN_MB)),
    ColdFault("jwks-10mb-streamed", "jwks", lambda s: streamed(TEN_MB)),
    ColdFault(
        "jwks-keys-is-a-huge-number", "jwks", lambda s: body(b'{"keys": ' + HUGE.encode() + b"}")
    ),
    ColdFault("jwks-document-is-1e400", "jwks", lambda s: body(b"1e400")),
    ColdFault(
        "jwks-content-length-5000-digits",
        "jwks",
        lambda s: body(b"{}", **{"content-length": "9" * 5000}),
    ),
    ColdFault(
        "discovery-503-retry-after-huge",
        "discovery",
        lambda s: status(503, **{"retry-after": HUGE}),
    ),
    ColdFault(
        "discovery-503-retry-after-nan",
        "discovery",
        lambda s: status(503, **{"retry-after": "NaN"}),
    ),
    ColdFault(
        "discovery-503-retry-after-negative",
        "discovery",
        lambda s: status(503, **{"retry-after": "-5"}),
    ),
    ColdFault(
        "jwks-429-retry-after-1e400", "jwks", lambda s: status(429, **{"retry-after": "1e400"})
    ),
    *NUMBER_FAULTS,
]


@pytest.mark.anyio
@pytest.mark.parametrize("driver", DRIVERS)
@pytest.mark.parametrize("fault", COLD_FAULTS, ids=[f.id for f in COLD_FAULTS])
async def test_cold_start_fault_is_503_with_retry_after(fault: ColdFault, driver: str) -> None:
    """Any framework: a valid token meets 503 + Retry-After (never 401/500), nothing followed."""
    async with world(driver) as w:
        w.server.faults[fault.kind] = fault.make(w.server)
        with anyio.fail_after(20):  # generous bound; the configured timeout is 0.2 s
            response = await w.get(w.token())
        assert response.status_code == 503
        assert int(response.headers["retry-after"]) >= 1
        assert response.json()["error"] == "temporarily_unavailable"
        assert "www-authenticate" not in response.headers
        assert all(EVIL_HOST not in host for host in w.server.hosts())
        assert w.server.count("other") == 0


@pytest.mark.anyio
@pytest.mark.parametrize("driver", DRIVERS)
@pytest.mark.parametrize("fault", COLD_FAULTS, ids=[f.id for f in COLD_FAULTS])
async def test_cold_start_fault_honours_the_backoff(fault: ColdFault, driver: str) -> None:
    """After a failed cold fetch, requests within the backoff are 503 without another fetch."""
    async with world(driver) as w:
        w.server.faults[fault.kind] = fault.make(w.server)
        with anyio.fail_after(20):
            assert (await w.get(w.token())).status_code == 503
            fetched = len(w.server.log)
            for _ in range(20):
                w.clock.advance(0.1)
                assert (await w.get(w.token())).status_code == 503
        assert len(w.server.log) == fetched


@pytest.mark.anyio
async def test_a_missing_token_is_401_even_while_keys_are_unavailable() -> None:
    """A request without a token is 401 with no fetch at all: the outage is not its business."""
    async with world() as w:
        w.server.faults["jwks"] = status(500)
        response = await w.get(None)
        assert response.status_code == 401
        assert w.server.log == []


@pytest.mark.anyio
async def test_malformed_tokens_never_trigger_a_fetch() -> None:
    """Tokens that fail before key lookup (garbage, alg none, no kid) fetch nothing."""
    async with world() as w:
        for token in [
            "abc",
            "a.b.c",
            w.issuer.mint(header={"alg": "none"}),
            w.issuer.mint(header={"kid": None}),
        ]:
            assert (await w.get(token)).status_code == 401
        assert w.server.log == []


@pytest.mark.anyio
async def test_a_5000_digit_content_length_is_a_named_refresh_failure(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A Content-Length too long for int() is "larger than the cap", not an unexpected error."""
    async with world() as w:
        w.server.faults["jwks"] = body(b"{}", **{"content-length": "9" * 5000})
        with caplog.at_level("WARNING", logger="okta_bearer"):
            assert (await w.get(w.token())).status_code == 503
    failures = [r.getMessage() for r in caplog.records if "key refresh" in r.getMessage()]
    assert failures
    assert all("larger than" in m and "unexpected" not in m for m in failures), failures
