"""MCP servers over streamable HTTP, protected by okta_bearer (``pip install 'okta-bearer[mcp]'``).

The recommended shape puts :class:`~okta_bearer.BearerAuthMiddleware` in front
of the SDK's streamable-HTTP app, with ``resource=`` set to the MCP endpoint's
URL, and :class:`ToolScopes` between them with one table of what each tool
needs: scopes, and for sensitive tools a strong or recent sign-in (RFC 9470)::

    mcp = MCPServer("items")
    app = BearerAuthMiddleware(
        ToolScopes(
            mcp.streamable_http_app(),
            {
                "add_item": ["items:write"],
                "delete_all": ToolRequirement(
                    ["items:write"], acr_values=["urn:okta:loa:2fa:any"], max_age=300
                ),
            },
        ),
        issuer="https://dev-123456.okta.com/oauth2/default",
        resource="https://api.example/mcp",
        required_scopes=["items:read"],
    )

The middleware serves the RFC 9728 metadata, names it in every challenge,
accepts only tokens whose ``aud`` is exactly the resource (RFC 8707), and
answers 503 rather than 401 when the issuer's keys cannot be had.  A tool call
that needs a scope the token lacks is refused with 403 ``insufficient_scope``
naming every scope the call needs, and one whose sign-in is too weak or too old
with 401 ``insufficient_user_authentication`` naming ``acr_values`` /
``max_age``, both with ``resource_metadata`` and before the tool runs, so the
MCP client can ask for a better token (a check inside a tool could not do
this: the SDK turns a tool's exception into a 200 with ``isError``).  The same
table fills the metadata's ``scopes_supported``, so the document and the check
cannot drift.  Tools read the caller's claims with :func:`claims_of`.

For servers that use the SDK's own auth plumbing (``MCPServer(token_verifier=...,
auth=AuthSettings(...))``), :class:`McpTokenVerifier` adapts a verifier to
the SDK's ``TokenVerifier`` protocol.  That path cannot tell a client *why* a
token was refused or that the issuer is down (the protocol's only failure value
is ``None``, a 401), nor ask for more scopes or a step-up, which is why the
middleware is recommended.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from types import MappingProxyType
from typing import Any

try:
    from mcp.server.auth.provider import AccessToken
except ImportError as exc:  # pragma: no cover - exercised in a subprocess test
    raise ImportError("okta_bearer.mcp needs the MCP SDK: pip install 'okta-bearer[mcp]'") from exc
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ._errors import BearerError, ConfigurationError, InvalidRequest, MissingToken
from ._http.rfc6750 import is_scope_token
from ._http.stepup import StepUpPolicy
from ._jwt.binding import check_bearer
from ._jwt.claims import Claims
from ._jwt.validation import check_scopes
from ._options import checked_options
from ._protocols import Verifier

__all__ = ["McpTokenVerifier", "ToolRequirement", "ToolScopes", "claims_of"]

logger = logging.getLogger("okta_bearer")

#: The MCP SDK's default request body limit; larger bodies are refused with 413.
DEFAULT_MAX_BODY = 4 * 1024 * 1024


@checked_options
class McpTokenVerifier:
    """The MCP SDK's ``TokenVerifier`` protocol over an okta_bearer verifier.

    Args:
        verifier: a :class:`~okta_bearer.TokenVerifier` (or any
            :class:`~okta_bearer.Verifier`), configured with the MCP server's
            URL among its audiences.
        resource: the MCP server's resource identifier, reported as
            ``AccessToken.resource`` when the token's ``aud`` lists it.
        required_scopes: scopes every token must hold.

    ``verify_token`` returns ``None`` for any refused token (the protocol has no
    other failure value); the reason is logged at debug level, never the token.
    The SDK's path carries no DPoP proof, so a sender-constrained token
    (``cnf``, or introspection's ``token_type: DPoP``) is refused like an
    invalid one (:func:`okta_bearer.check_bearer`), before any scope check.
    """

    def __init__(
        self,
        verifier: Verifier,
        *,
        resource: str | None = None,
        required_scopes: Iterable[str] = (),
    ) -> None:
        if isinstance(required_scopes, str):
            raise ConfigurationError("required_scopes must be a list of scopes, not one string")
        self.verifier = verifier
        self.resource = resource
        self.required_scopes = tuple(required_scopes)

    async def verify_token(self, token: str) -> AccessToken | None:
        """Verify ``token``; its claims as the SDK's ``AccessToken``, or ``None`` when refused."""
        try:
            claims = await self.verifier.verify(token)
            # The SDK's auth backend only speaks Bearer: a sender-constrained
            # token (RFC 9449 section 7.2) is refused here, before any scope.
            check_bearer(claims)
            if self.required_scopes:
                check_scopes(claims, self.required_scopes)
        except BearerError as error:
            logger.debug("okta_bearer.mcp: token refused (%s, %s)", error.status, error.reason)
            return None
        if self.resource is not None and self.resource in claims.audience:
            resource: str | None = self.resource
        else:
            resource = claims.audience[0] if claims.audience else None
        return AccessToken(
            token=token,
            client_id=claims.client_id or "",
            scopes=sorted(claims.scopes),
            expires_at=int(claims.expires_at.timestamp()),
            resource=resource,
            subject=claims.sub,
            claims=_plain(claims.raw),
        )


def _plain(value: Any) -> Any:
    # Claims.raw may hold read-only mappings and tuples; the SDK wants JSON-like data.
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def claims_of(ctx: Any) -> Claims:
    """The verified claims of the request behind an MCP tool call.

    ``ctx`` is the SDK's ``Context`` (a tool parameter annotated ``Context``).

    Raises:
        MissingToken: the request carries no verified token.
    """
    request = getattr(getattr(ctx, "request_context", None), "request", None)
    scope = getattr(request, "scope", None)
    claims = getattr(scope.get("user"), "claims", None) if isinstance(scope, dict) else None
    if not isinstance(claims, Claims):
        raise MissingToken()
    return claims


class _DuplicateKey(ValueError):
    pass


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found = dict(pairs)
    if len(found) != len(pairs):
        raise _DuplicateKey
    return found


@checked_options
class ToolRequirement:
    """What a call to one MCP tool needs: scopes, and a strong or recent enough sign-in.

    Args:
        scopes: scopes the token must hold, besides the middleware's
            ``required_scopes``; else 403 ``insufficient_scope``.
        acr_values: acceptable ``acr`` values (RFC 9470); the token's ``acr``
            must equal one of them.
        max_age: the sign-in (``auth_time``) must be at most this many
            seconds old; a token without ``auth_time`` fails.

    ``acr_values`` and ``max_age`` are the same step-up policy that
    ``require_auth`` applies to routes: a token falling short is answered
    with 401 ``insufficient_user_authentication``, ``acr_values="..."`` /
    ``max_age="N"`` and every scope the call needs in the challenge
    (RFC 9470 section 3).

    Raises:
        ConfigurationError: a scope that is not an RFC 6749 scope token, or
            an invalid ``acr_values`` / ``max_age``.
    """

    __slots__ = ("scopes", "step_up")

    def __init__(
        self,
        scopes: Iterable[str] = (),
        *,
        acr_values: Iterable[str] = (),
        max_age: int | None = None,
    ) -> None:
        if isinstance(scopes, str):
            raise ConfigurationError("scopes must be a list of scopes, e.g. ['s'], not one string")
        found = tuple(scopes)
        if not all(isinstance(s, str) and is_scope_token(s) for s in found):
            raise ConfigurationError("scopes entries must be RFC 6749 scope tokens")
        self.scopes: tuple[str, ...] = tuple(dict.fromkeys(found))
        self.step_up = StepUpPolicy(acr_values, max_age)

    def __bool__(self) -> bool:
        return bool(self.scopes) or bool(self.step_up)

    def __repr__(self) -> str:
        policy = self.step_up
        return (
            f"ToolRequirement({list(self.scopes)!r}, acr_values={list(policy.acr_values)!r}, "
            f"max_age={policy.max_age!r})"
        )


def _requirement(name: object, value: object) -> ToolRequirement:
    if not isinstance(name, str) or not name:
        raise ConfigurationError("tool_scopes keys must be tool names (non-empty strings)")
    if isinstance(value, ToolRequirement):
        return value
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise ConfigurationError(
            "tool_scopes must map tool names to lists of scopes or ToolRequirement, "
            "e.g. {'t': ['s']}"
        )
    try:
        return ToolRequirement(value)
    except ConfigurationError as exc:
        raise ConfigurationError(f"tool_scopes[{name!r}]: {exc}") from None


@checked_options
class ToolScopes:
    """An ASGI wrapper that checks what each MCP tool needs on ``tools/call`` requests.

    Args:
        app: the MCP streamable-HTTP app, behind :class:`~okta_bearer.BearerAuthMiddleware`.
        tool_scopes: the one table of tool requirements: tool name -> the
            scopes a call needs (a list, as in earlier releases) or a
            :class:`ToolRequirement` (scopes and RFC 9470 step-up).
        max_body: the largest request body read (bytes); larger POSTs get 413.
        clock: seconds since the epoch, for ``max_age`` (injectable for tests).

    For a ``POST`` whose JSON-RPC body (one message or a batch) calls a listed
    tool, the caller's token must hold every scope of every tool called, else
    :class:`~okta_bearer.InsufficientScope` is raised before the app sees the
    request and the middleware answers 403 with all of them in ``scope``;
    then each called tool's step-up rule is checked, in call order, and the
    first one not met raises :class:`~okta_bearer.InsufficientUserAuthentication`
    (401 with its ``acr_values`` / ``max_age``).  Scopes first, as
    ``require_auth`` does.

    The table's scopes are :attr:`scopes_supported`;
    :class:`~okta_bearer.BearerAuthMiddleware` with ``resource=`` finds them
    (it follows the ``app`` attribute of the apps it wraps) and lists them in
    the RFC 9728 document's ``scopes_supported``, with its own required
    scopes.

    A POST body that is not UTF-8 JSON, repeats a key (two parsers could read
    different tool names from it) or nests too deeply is refused with 400:
    what this check cannot read must not reach a parser that might.  Anything
    else passes through unchanged (the body is replayed to the app).

    Raises:
        ConfigurationError: a malformed table, or ``max_body`` under 1024.
    """

    def __init__(
        self,
        app: ASGIApp,
        tool_scopes: Mapping[str, Iterable[str] | ToolRequirement],
        *,
        max_body: int = DEFAULT_MAX_BODY,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not isinstance(tool_scopes, Mapping):
            raise ConfigurationError("tool_scopes must be a mapping of tool names")
        table = {name: _requirement(name, value) for name, value in tool_scopes.items()}
        if isinstance(max_body, bool) or not isinstance(max_body, int) or max_body < 1024:
            raise ConfigurationError("max_body must be an integer of at least 1024 bytes")
        if not callable(clock):
            raise ConfigurationError("clock must be a callable returning seconds")
        self.app = app
        self._table = {k: v for k, v in table.items() if v}
        self._max_body = max_body
        self._clock = clock

    @property
    def requirements(self) -> Mapping[str, ToolRequirement]:
        """The table: tool name -> what a call needs (tools that need nothing left out)."""
        return MappingProxyType(self._table)

    @property
    def scopes_supported(self) -> tuple[str, ...]:
        """Every scope the table names, in table order, once each (for RFC 9728 metadata)."""
        return tuple(dict.fromkeys(s for r in self._table.values() for s in r.scopes))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or not self._table:
            await self.app(scope, receive, send)
            return
        body = bytearray()
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away before sending the body
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > self._max_body:
                await _too_large(send)
                return
        self._check(scope, bytes(body))
        await self.app(scope, _replay(bytes(body), receive), send)

    def _check(self, scope: Scope, body: bytes) -> None:
        called = [self._table[n] for n in _called_tools(body) if n in self._table]
        if not called:
            return
        claims = getattr(scope.get("user"), "claims", None)
        if not isinstance(claims, Claims):
            raise MissingToken()
        needed = dict.fromkeys(s for r in called for s in r.scopes)
        if needed:
            check_scopes(claims, needed)
        # RFC 9470: the same rule require_auth applies to routes.
        now: float | None = None
        for requirement in called:
            if requirement.step_up:
                now = self._clock() if now is None else now
                requirement.step_up.check(claims.raw, now, needed)


def _called_tools(body: bytes) -> list[str]:
    """The names of the tools a JSON-RPC body (one message or a batch) calls, in order.

    Raises:
        InvalidRequest: the body is not readable JSON, repeats a key or nests too deeply.
    """
    try:
        parsed = json.loads(body, object_pairs_hook=_unique_keys)
    except _DuplicateKey as exc:
        raise InvalidRequest("duplicate_keys", "The JSON body repeats a key") from exc
    except RecursionError as exc:
        raise InvalidRequest("json_too_deep", "The JSON body is nested too deeply") from exc
    except ValueError as exc:
        # Fail closed: a body we cannot read might still be read by the
        # app's own parser (a parser differential), so it never passes.
        raise InvalidRequest("bad_json", "The body is not a JSON-RPC message") from exc
    names: list[str] = []
    for message in parsed if isinstance(parsed, list) else [parsed]:
        if not isinstance(message, dict) or message.get("method") != "tools/call":
            continue
        params = message.get("params")
        name = params.get("name") if isinstance(params, dict) else None
        if isinstance(name, str):
            names.append(name)
    return names


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


async def _too_large(send: Send) -> None:
    body = b'{"error":"invalid_request","error_description":"The request body is too large"}'
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 413, "headers": headers})
    await send({"type": "http.response.body", "body": body})
