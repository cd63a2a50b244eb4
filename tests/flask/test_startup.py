"""The Flask extension's start-up check (``startup_check``), as the ASGI middleware's."""

from __future__ import annotations

import logging
import os
from typing import Any

import httpx
import pytest
from flask import Flask

from okta_bearer import ConfigurationError, KeyPolicy, StartupCheckFailed
from okta_bearer.flask import BearerAuth, public
from okta_bearer.testing import LocalIssuer


def down_verifier(issuer: LocalIssuer) -> object:
    """A verifier for ``issuer`` whose key server answers every request with a 503."""
    return issuer.verifier(
        transport=httpx.MockTransport(lambda _: httpx.Response(503)),
        keys=KeyPolicy(timeout=1.0),
    )


def app_with_health() -> Flask:
    """An app with a public ``/health`` and a protected ``/``."""
    app = Flask("startup_app")

    @app.get("/health")
    @public
    def health() -> dict[str, bool]:
        return {"ok": True}

    @app.get("/")
    def index() -> dict[str, bool]:
        return {"ok": True}

    return app


def test_warn_fetches_keys_at_init_so_the_first_request_fetches_nothing(
    okta_issuer: LocalIssuer,
) -> None:
    """The default ("warn") fetches discovery and keys in init_app; the first request uses them."""
    app = app_with_health()
    BearerAuth(app, verifier=okta_issuer.verifier())
    fetched = [r.url.path for r in okta_issuer.requests]
    assert len(fetched) == 2  # discovery, then the JWKS
    token = okta_issuer.mint()
    response = app.test_client().get("/", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    assert len(okta_issuer.requests) == 2


def test_warn_logs_the_problem_and_serves(
    okta_issuer: LocalIssuer, caplog: pytest.LogCaptureFixture
) -> None:
    """With "warn" and the issuer down: an ERROR naming the issuer, then the app serves."""
    app = app_with_health()
    with caplog.at_level(logging.ERROR, logger="okta_bearer"):
        BearerAuth(app, verifier=down_verifier(okta_issuer), startup_check="warn")
    [record] = [r for r in caplog.records if getattr(r, "reason", None) == "startup_check_failed"]
    message = record.getMessage()
    assert message.startswith(f"okta_bearer: start-up check failed: issuer {okta_issuer.issuer}: ")
    assert "starting anyway" in message
    client = app.test_client()
    assert client.get("/health").status_code == 200
    token = okta_issuer.mint()
    assert client.get("/", headers={"Authorization": f"Bearer {token}"}).status_code == 503


def test_exit_stops_with_the_issuer_and_the_problem(
    okta_issuer: LocalIssuer, caplog: pytest.LogCaptureFixture
) -> None:
    """With "exit" and the issuer down, init_app raises naming the issuer, and installs nothing."""
    app = app_with_health()
    with pytest.raises(StartupCheckFailed) as stopped, caplog.at_level(logging.ERROR):
        BearerAuth(app, verifier=down_verifier(okta_issuer), startup_check="exit")
    assert isinstance(stopped.value, RuntimeError)  # what a generic handler catches
    assert str(stopped.value).startswith(f"okta_bearer: issuer {okta_issuer.issuer}: ")
    assert "okta_bearer" not in app.extensions
    assert any("stopping (startup_check='exit')" in r.getMessage() for r in caplog.records)


def test_exit_with_a_reachable_issuer_starts(okta_issuer: LocalIssuer) -> None:
    """With "exit" and a working issuer, the app starts normally, keys in hand."""
    app = app_with_health()
    BearerAuth(app, verifier=okta_issuer.verifier(), startup_check="exit")
    assert len(okta_issuer.requests) == 2


def test_off_fetches_nothing_at_start_up(okta_issuer: LocalIssuer) -> None:
    """With "off": nothing is fetched in init_app; the first request fetches the keys."""
    app = app_with_health()
    BearerAuth(app, verifier=okta_issuer.verifier(), startup_check="off")
    assert okta_issuer.requests == []
    token = okta_issuer.mint()
    response = app.test_client().get("/", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    assert len(okta_issuer.requests) == 2


def test_init_app_later_runs_the_check_there(okta_issuer: LocalIssuer) -> None:
    """With the app factory pattern the check runs in init_app, not in the constructor."""
    auth = BearerAuth(verifier=okta_issuer.verifier())
    assert okta_issuer.requests == []
    auth.init_app(app_with_health())
    assert len(okta_issuer.requests) == 2


@pytest.mark.parametrize("value", ["exti", "WARN", "", None, True, 1])
def test_a_misspelt_value_is_refused_naming_the_option(
    okta_issuer: LocalIssuer, value: object
) -> None:
    """A value other than warn/exit/off raises ConfigurationError naming startup_check."""
    with pytest.raises(ConfigurationError, match="startup_check must be one of"):
        BearerAuth(app_with_health(), verifier=okta_issuer.verifier(), startup_check=value)  # type: ignore[arg-type]
    assert okta_issuer.requests == []


def test_an_introspection_verifier_warmed_before_a_fork_opens_its_own_client(
    okta_issuer: LocalIssuer,
) -> None:
    """Warmed in a parent (gunicorn --preload), a forked child drops the parent's pooled client."""
    from okta_bearer.testing import IntrospectionServer

    server = IntrospectionServer(okta_issuer)
    verifier: Any = server.verifier(introspection_endpoint=None)
    app = app_with_health()
    BearerAuth(app, verifier=verifier)  # discovers the introspection endpoint now
    assert verifier.introspection_endpoint == server.introspection_endpoint
    assert verifier._sync_client is not None
    pid = os.fork()
    if pid == 0:  # the child: a fresh client, the endpoint kept, and it introspects
        code = 1
        try:
            fresh = verifier._sync_client is None
            token = server.mint_opaque()
            answer = app.test_client().get("/", headers={"Authorization": f"Bearer {token}"})
            code = 0 if fresh and answer.status_code == 200 else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


def test_exit_closes_a_verifier_built_from_issuer(monkeypatch: pytest.MonkeyPatch) -> None:
    """With "exit", a verifier built from issuer= is closed before init_app raises."""
    from okta_bearer._http.gate import Gate

    closed: list[Gate] = []
    original = Gate.close

    def recording(self: Gate) -> None:
        closed.append(self)
        original(self)

    monkeypatch.setattr(Gate, "close", recording)
    with pytest.raises(RuntimeError, match=r"issuer http://127\.0\.0\.1:9/oauth2/default"):
        BearerAuth(
            app_with_health(),
            issuer="http://127.0.0.1:9/oauth2/default",  # discard port: nobody answers
            audience="api://default",
            startup_check="exit",
        )
    assert len(closed) == 1
    assert closed[0].settings.owns_verifier
