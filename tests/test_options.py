"""Every public constructor and factory refuses an unknown option with ConfigurationError.

The table is discovered from the ``__all__`` of every public module, so a new
public class or factory is checked without anyone remembering to add it here.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
from typing import Any

import pytest
from fastapi import FastAPI
from starlette.applications import Starlette

from okta_bearer import BearerAuthMiddleware, ConfigurationError, TokenVerifier
from okta_bearer._options import checked_options

PUBLIC_MODULES = (
    "okta_bearer",
    "okta_bearer.dev_issuer",
    "okta_bearer.fastapi",
    "okta_bearer.mcp",
    "okta_bearer.metrics",
    "okta_bearer.redis_store",
    "okta_bearer.testing",
)

# Public callables that take no user configuration, each with the reason.
NOT_CONFIGURED = {
    "okta_bearer.BearerUser": "built by the middleware for each request",
    "okta_bearer.Claims": "built by verifiers from a token's payload",
    "okta_bearer.check_auth": "called per request inside an endpoint, not a factory",
    "okta_bearer.check_bearer": "called per request on verified claims, not a factory",
    "okta_bearer.Store": "a Protocol to implement",
    "okta_bearer.Verifier": "a Protocol to implement",
    "okta_bearer.SyncStore": "a Protocol to implement",
    "okta_bearer.SyncVerifier": "a Protocol to implement",
    "okta_bearer.metrics.Events": "a base class to subclass; it takes no options",
    "okta_bearer.mcp.claims_of": "called per request inside a tool, not a factory",
}
ISSUER = "https://dev-1.okta.com/oauth2/default"


def _public_callables() -> list[tuple[str, Any]]:
    found = []
    for module_name in PUBLIC_MODULES:
        module = importlib.import_module(module_name)
        for name in module.__all__:
            obj = getattr(module, name)
            qualified = f"{module_name}.{name}"
            if not callable(obj) or qualified in NOT_CONFIGURED:
                continue
            if isinstance(obj, type) and issubclass(obj, BaseException):
                continue  # errors are raised by the library, not configured
            if not inspect.isclass(obj) and not inspect.isfunction(obj):
                continue  # an instance (fastapi.get_claims), used as is
            found.append((qualified, obj))
    return found


PUBLIC = _public_callables()


def _keyword_options(target: Any) -> list[str]:
    function = target.__init__ if inspect.isclass(target) else target
    params = list(inspect.signature(function).parameters.values())
    named = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    return [p.name for p in params if p.kind in named and p.name not in ("self", "app")]


def test_the_table_finds_the_public_constructors() -> None:
    """Discovery sees the classes and factories the issue names, so the table cannot be empty."""
    names = {name.rsplit(".", 1)[1] for name, _ in PUBLIC}
    expected = {
        "BearerAuthMiddleware",
        "TokenVerifier",
        "IntrospectionVerifier",
        "MultiIssuerVerifier",
        "TokenShapeVerifier",
        "TokenProfile",
        "DPoPSettings",
        "KeyPolicy",
        "ProtectedResource",
        "MemoryStore",
        "RedisStore",
        "LocalIssuer",
        "DPoPKey",
        "SigningKey",
        "IntrospectionServer",
        "TokenRegistry",
        "PrometheusEvents",
        "McpTokenVerifier",
        "ToolScopes",
        "protect",
        "configure_openapi",
        "require_auth",
        "require_scopes",
        "DevIssuer",
        "DevClient",
        "DevUser",
    }
    assert expected <= names


@pytest.mark.parametrize(("name", "target"), PUBLIC, ids=[name for name, _ in PUBLIC])
def test_an_unknown_option_is_a_configuration_error_naming_the_call(name: str, target: Any) -> None:
    """An option nobody declared raises ConfigurationError naming the callable and the option."""
    with pytest.raises(ConfigurationError) as info:
        target(no_such_option=1)
    message = str(info.value)
    assert f"{target.__name__}() got an unknown option 'no_such_option'" in message


# require_scopes(*scopes) takes no keyword option to misspell.
WITH_OPTIONS = [(name, target) for name, target in PUBLIC if _keyword_options(target)]


@pytest.mark.parametrize(("name", "target"), WITH_OPTIONS, ids=[n for n, _ in WITH_OPTIONS])
def test_a_misspelt_option_gets_a_suggestion(name: str, target: Any) -> None:
    """Each keyword option, misspelt by one letter, is suggested back by its real name."""
    options = _keyword_options(target)
    for option in options:
        typo = option[:-1] if len(option) > 3 else option + "x"
        if typo in options:
            continue
        with pytest.raises(ConfigurationError) as info:
            target(**{typo: 1})
        assert f"did you mean {option!r}?" in str(info.value), (option, str(info.value))


def test_a_callable_without_keyword_options_says_so() -> None:
    """A keyword given to require_scopes(*scopes) is refused with a plain explanation."""
    require_scopes = importlib.import_module("okta_bearer.fastapi").require_scopes
    with pytest.raises(ConfigurationError, match="it takes no keyword options"):
        require_scopes(scopes=["a"])


def test_protect_speaks_of_protect() -> None:
    """A mistake under protect() is reported as protect()'s, not as the middleware's."""
    with pytest.raises(ConfigurationError, match=r"^protect\(\) needs audience="):
        importlib.import_module("okta_bearer.fastapi").protect(FastAPI(), issuer=ISSUER)
    with pytest.raises(ConfigurationError, match=r"^BearerAuthMiddleware\(\) needs audience="):
        BearerAuthMiddleware(Starlette(), issuer=ISSUER)


def test_a_missing_or_extra_positional_argument_is_a_configuration_error() -> None:
    """Arguments that do not fit the signature at all are ConfigurationErrors too."""
    with pytest.raises(ConfigurationError, match=r"^TokenVerifier\(\) needs audience=$"):
        TokenVerifier(ISSUER)  # type: ignore[call-arg]
    with pytest.raises(ConfigurationError, match="too many positional arguments"):
        TokenVerifier(ISSUER, "api://default", "RS256")  # type: ignore[call-arg]


def test_a_typeerror_from_the_body_is_not_disguised() -> None:
    """A TypeError raised inside a correctly called constructor stays a TypeError."""

    @checked_options
    def factory(*, size: int = 1) -> int:
        return len(size)  # type: ignore[arg-type]

    with pytest.raises(TypeError, match="has no len"):
        factory(size=3)


def test_the_middleware_keeps_an_unknown_option_for_lifespan_inside_an_event_loop() -> None:
    """Built inside a running loop (as Starlette builds it), the error waits for lifespan."""

    async def build_and_start() -> list[dict[str, Any]]:
        middleware = BearerAuthMiddleware(
            Starlette(),
            issuer=ISSUER,
            audience="api://default",
            public_path=["/health"],  # type: ignore[call-arg]
        )
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            return {"type": "lifespan.startup"}

        async def send(message: Any) -> None:
            sent.append(message)

        await middleware({"type": "lifespan"}, receive, send)
        with pytest.raises(ConfigurationError, match="public_path"):
            await middleware({"type": "http", "path": "/"}, receive, send)
        return sent

    sent = asyncio.run(build_and_start())
    assert sent[0]["type"] == "lifespan.startup.failed"
    assert "did you mean 'public_paths'?" in sent[0]["message"]
