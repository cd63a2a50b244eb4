"""Django's start-up check: OKTA_BEARER["startup_check"], run when the app registry is ready."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from django.apps import apps
from django.test import Client, override_settings

from okta_bearer import ConfigurationError
from okta_bearer.django import apps as okta_apps
from okta_bearer.django.apps import serving, start_up
from okta_bearer.django.checks import check_settings
from okta_bearer.testing import LocalIssuer

from .project import base_options

ROOT = Path(__file__).resolve().parents[2]
NO_PYTEST: dict[str, object] = {"django": object()}


def settings_for(issuer: LocalIssuer, **options: Any) -> override_settings:
    """``OKTA_BEARER`` trusting ``issuer`` (in-memory transport), with ``options`` on top."""
    return override_settings(OKTA_BEARER=base_options(issuer, **options))


def down(issuer: LocalIssuer, **options: Any) -> override_settings:
    """``OKTA_BEARER`` for ``issuer`` whose key server answers every request with a 503."""
    transport = httpx.MockTransport(lambda _: httpx.Response(503))
    return settings_for(issuer, transport=transport, keys={"timeout": 1.0}, **options)


def test_warn_fetches_keys_so_the_first_request_fetches_nothing(okta_issuer: LocalIssuer) -> None:
    """The default ("warn") fetches discovery and keys at start-up; the first request uses them."""
    with settings_for(okta_issuer):
        start_up()
        assert len(okta_issuer.requests) == 2  # discovery, then the JWKS
        token = okta_issuer.mint()
        response = Client().get("/items", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    assert len(okta_issuer.requests) == 2


def test_warn_logs_the_problem_and_serves(
    okta_issuer: LocalIssuer, caplog: pytest.LogCaptureFixture
) -> None:
    """With "warn" and the issuer down: one ERROR naming the issuer, then requests are served."""
    with down(okta_issuer, startup_check="warn"), caplog.at_level(logging.ERROR, "okta_bearer"):
        start_up()
        health = Client().get("/health")
        token = okta_issuer.mint()
        refused = Client().get("/items", headers={"Authorization": f"Bearer {token}"})
    [record] = [r for r in caplog.records if getattr(r, "reason", None) == "startup_check_failed"]
    assert record.getMessage().startswith(
        f"okta_bearer: start-up check failed: issuer {okta_issuer.issuer}: "
    )
    assert "starting anyway" in record.getMessage()
    assert health.status_code == 200
    assert refused.status_code == 503


def test_exit_stops_naming_the_issuer_and_the_problem(okta_issuer: LocalIssuer) -> None:
    """With "exit" and the issuer down, start-up raises naming the issuer and what failed."""
    with down(okta_issuer, startup_check="exit"), pytest.raises(RuntimeError) as stopped:
        start_up()
    assert str(stopped.value).startswith(f"okta_bearer: issuer {okta_issuer.issuer}: ")
    assert "HTTP 503" in str(stopped.value)


def test_off_fetches_nothing(okta_issuer: LocalIssuer) -> None:
    """With "off": nothing is fetched at start-up."""
    with settings_for(okta_issuer, startup_check="off"):
        start_up()
    assert okta_issuer.requests == []


@pytest.mark.parametrize("value", ["exti", "Warn", "", None, 1, True])
def test_a_misspelt_value_stops_start_up_naming_the_key(
    okta_issuer: LocalIssuer, value: object
) -> None:
    """A wrong startup_check raises ConfigurationError naming the key, before any fetch."""
    with settings_for(okta_issuer, startup_check=value), pytest.raises(ConfigurationError) as bad:
        start_up()
    assert "settings.OKTA_BEARER['startup_check'] must be one of" in str(bad.value)
    assert okta_issuer.requests == []


def test_a_misspelt_value_is_e001(okta_issuer: LocalIssuer) -> None:
    """manage.py check reports a wrong startup_check as okta_bearer.E001 naming the key."""
    with settings_for(okta_issuer, startup_check="exti"):
        [error] = check_settings(None)
    assert error.id == "okta_bearer.E001"
    assert "['startup_check']" in error.msg


def test_ready_runs_the_check_only_when_serving(
    okta_issuer: LocalIssuer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """AppConfig.ready: no fetch under the test runner, the start-up check when a server starts."""
    config = apps.get_app_config("okta_bearer")
    with settings_for(okta_issuer):
        config.ready()  # under pytest: skipped
        assert okta_issuer.requests == []
        monkeypatch.setattr(okta_apps, "serving", lambda *_: True)
        config.ready()
    assert len(okta_issuer.requests) == 2


@pytest.mark.parametrize(
    ("argv", "environ", "expected"),
    [
        (["/venv/bin/gunicorn", "project.wsgi", "-w", "4"], {}, True),
        (["uwsgi"], {}, True),
        (["/venv/bin/uvicorn", "project.asgi:application"], {}, True),
        ([], {}, True),
        (["manage.py", "check"], {}, False),
        (["manage.py", "migrate"], {}, False),
        (["manage.py", "test"], {}, False),
        (["manage.py"], {}, False),
        (["/venv/bin/django-admin", "check"], {}, False),
        (["/venv/lib/python3/site-packages/django/__main__.py", "migrate"], {}, False),
        (["my-manage", "migrate"], {}, False),
        (["manage.py", "runserver"], {}, False),  # the autoreloader's watching parent
        (["manage.py", "runserver"], {"RUN_MAIN": "true"}, True),
        (["manage.py", "runserver", "--noreload"], {}, True),
    ],
)
def test_serving(argv: list[str], environ: dict[str, str], expected: bool) -> None:
    """Servers are recognised; management commands (but runserver's server) and tests are not."""
    assert serving(argv, NO_PYTEST, environ) is expected
    assert serving(argv, {"pytest": object()}, environ) is False


def test_manage_py_commands_need_no_issuer() -> None:
    """manage.py check with startup_check="exit" and an unreachable issuer fetches nothing: 0."""
    environment = {
        **os.environ,
        "OKTA_ISSUER": "http://127.0.0.1:9/oauth2/default",  # discard port: nobody answers
        "OKTA_STARTUP_CHECK": "exit",
        "PYTHONPATH": str(ROOT),
    }
    result = subprocess.run(  # noqa: S603 - our own interpreter and script
        [sys.executable, str(ROOT / "examples" / "django_project" / "manage.py"), "check"],
        capture_output=True,
        text=True,
        timeout=120,
        env=environment,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout
    assert "start-up check" not in result.stderr


def test_a_server_with_exit_and_no_issuer_does_not_start() -> None:
    """A process that builds the WSGI app (as gunicorn does) with "exit" stops, naming it."""
    issuer = "http://127.0.0.1:9/oauth2/default"
    environment = {
        **os.environ,
        "OKTA_ISSUER": issuer,
        "OKTA_STARTUP_CHECK": "exit",
        "PYTHONPATH": str(ROOT),
    }
    result = subprocess.run(
        [sys.executable, "-c", "import examples.django_project.wsgi"],
        capture_output=True,
        text=True,
        timeout=120,
        env=environment,
        cwd=ROOT,
        check=False,
    )
    assert result.returncode != 0
    assert f"StartupCheckFailed: okta_bearer: issuer {issuer}: " in result.stderr


def test_exit_closes_what_was_built_for_the_gate(
    okta_issuer: LocalIssuer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With "exit", the gate and the verifier built from the setting are closed before raising."""
    from okta_bearer.django import _conf

    resets: list[bool] = []
    original = _conf.reset

    def recording() -> None:
        resets.append(True)
        original()

    monkeypatch.setattr(_conf, "reset", recording)
    with down(okta_issuer, startup_check="exit"), pytest.raises(RuntimeError):
        start_up()
    assert resets[:1] == [True]
