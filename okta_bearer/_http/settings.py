"""One deployment's options, checked once: what every driver (ASGI, Flask, Django) shares.

:class:`AuthSettings` is built from the options a user passes to
:class:`~okta_bearer.BearerAuthMiddleware`, to :class:`okta_bearer.flask.BearerAuth`
or to the Django middleware, so an option means the same thing everywhere and
a mistake raises the same :class:`~okta_bearer.ConfigurationError`, naming the
option.  It also holds what the drivers do with a refusal once the request is
judged: the answer (:meth:`AuthSettings.error_response`, RFC 6750 / RFC 9449
section 7.1 challenges) and the log record (:func:`log_refusal`).

The only difference between the sides is the verifier's face: the ASGI
middleware needs a :class:`~okta_bearer.Verifier` (``await verify()``), the
WSGI gate a :class:`~okta_bearer.SyncVerifier` (``verify_sync()``) and, with
``dpop=``, a replay store with a blocking face (``store.sync``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, MutableMapping
from typing import Any, Literal

from .._config import check_bool
from .._dpop.guard import DPoPGuard, Scheme
from .._dpop.settings import DPoPSettings
from .._errors import BearerError, ConfigurationError, UseDPoPNonce
from .._events import Events, check_events
from .._jwt.verifier import TokenVerifier
from .._log_fields import token_fields
from .._opaque.issuers import issuers_of
from .._options import called_api
from .._protocols import SyncVerifier, Verifier
from .._store.memory import sync_face
from .metadata import ProtectedResource
from .responses import ChallengeSettings, ErrorResponse, error_response
from .rfc6750 import is_scope_token

__all__ = ["AuthSettings", "OnError", "Side", "log_refusal", "with_resource"]

logger = logging.getLogger("okta_bearer")

#: ``on_error(error)`` returns the JSON body to send instead of the default one.
OnError = Callable[[BearerError], Mapping[str, Any]]
#: Which face of the verifier a driver calls: ``await verify()`` or ``verify_sync()``.
Side = Literal["async", "sync"]

_CONTEXT_LIMIT = 200  # characters of one logged context value (claims are attacker-chosen)


class AuthSettings:
    """The checked options of one protected app.

    Args:
        verifier: any :class:`~okta_bearer.Verifier` (``side="async"``) or
            :class:`~okta_bearer.SyncVerifier` (``side="sync"``); or ``None``
            with ``issuer=`` and ``audience=``: a
            :class:`~okta_bearer.TokenVerifier` is built (and owned: the
            driver closes it).
        issuer: see :class:`~okta_bearer.BearerAuthMiddleware` (as every
            option below up to ``events``).
        audience: the accepted audience(s).
        public_paths: paths served without a token.
        optional: let requests without a token through.
        realm: the challenges' ``realm``.
        required_scopes: scopes every protected request must hold.
        error_details: name the error in answers.
        resource: the RFC 9728 resource.
        on_error: builds a refusal's JSON body.
        dpop: DPoP settings.
        events: metric hooks.
        side: which face of the verifier the driver calls.
        declared_scopes: scopes the protected app says it checks (ToolScopes),
            added to the RFC 9728 document's ``scopes_supported``.
        api: the public call, for messages (``"BearerAuth()"``).

    Raises:
        ConfigurationError: an option is wrong, naming it.
    """

    def __init__(
        self,
        *,
        verifier: object | None,
        issuer: str | None,
        audience: str | Iterable[str] | None,
        public_paths: Iterable[str],
        optional: bool,
        realm: str | None,
        required_scopes: Iterable[str],
        error_details: bool,
        resource: str | ProtectedResource | None,
        on_error: OnError | None,
        dpop: DPoPSettings | None,
        events: Events | None,
        side: Side,
        declared_scopes: Iterable[str] = (),
        api: str = "BearerAuthMiddleware()",
    ) -> None:
        self.events = check_events(events)
        paths = _listed("public_paths", public_paths, "paths")
        if not all(isinstance(p, str) and p.startswith("/") for p in paths):
            raise ConfigurationError("public_paths entries must be paths starting with '/'")
        scopes = _listed("required_scopes", required_scopes, "scopes")
        if not all(isinstance(s, str) and is_scope_token(s) for s in scopes):
            raise ConfigurationError("required_scopes entries must be RFC 6749 scope tokens")
        if on_error is not None and not callable(on_error):
            raise ConfigurationError("on_error must be a callable taking the BearerError")
        if dpop is not None and not isinstance(dpop, DPoPSettings):
            raise ConfigurationError("dpop must be an okta_bearer.DPoPSettings or None")
        if dpop is not None and side == "sync":
            # A WSGI worker marks proofs from its threads: the store's blocking face.
            sync_face(dpop.replay_store, "dpop.store")
        if isinstance(resource, str):
            resource = ProtectedResource(resource)
        elif resource is not None and not isinstance(resource, ProtectedResource):
            raise ConfigurationError("resource must be a URL string or a ProtectedResource")
        self.challenge = ChallengeSettings(
            realm=realm,
            details=check_bool("error_details", error_details),
            resource_metadata=resource.metadata_url if resource is not None else None,
            # A 401 names the deployment's scopes only with a resource (RFC 9728 5.1).
            scopes=scopes if resource is not None else (),
        )
        self.verifier, self.owns_verifier = _verifier(
            verifier, issuer, audience, resource, self.events, side, api
        )
        # "/" is the root page: as a prefix it would make every path public.
        self.exact = frozenset(p for p in paths if p == "/" or not p.endswith("/"))
        self.prefixes = tuple(p for p in paths if p != "/" and p.endswith("/"))
        # A truthy string ("false" from an environment variable) must not open the API.
        self.optional = check_bool("optional", optional)
        self.required_scopes = scopes
        self.on_error = on_error
        self.dpop = DPoPGuard(dpop) if dpop is not None else None
        # RFC 9728 section 2: the document says what this deployment does: every
        # issuer accepted, the scopes checked here and by the app (ToolScopes),
        # and whether DPoP is accepted or required.
        if resource is not None:
            resource = resource.describing(
                issuers=issuers_of(self.verifier),
                scopes=(*scopes, *declared_scopes),
                dpop_algorithms=None if dpop is None or dpop.mode == "bearer" else dpop.algorithms,
                dpop_required=dpop is not None and dpop.mode == "required",
            )
        self.resource = resource
        self.metadata_paths = resource.paths if resource is not None else frozenset()

    def is_public(self, path: str) -> bool:
        """Whether ``path`` (a route path, relative to ``root_path``) is served without a token."""
        return path in self.exact or (bool(self.prefixes) and path.startswith(self.prefixes))

    def error_response(self, error: BearerError, scheme: Scheme | None = None) -> ErrorResponse:
        """The status, headers and body answering ``error`` (no token contents).

        ``scheme`` is the authorization scheme the request used (``"Bearer"``,
        ``"DPoP"``, or ``None`` for none); with DPoP on, the error goes on that
        scheme's challenge.
        """
        challenges = None if self.dpop is None else self.challenges(self.dpop, error, scheme)
        if self.on_error is not None:
            try:
                body = self.on_error(error)
                return error_response(error, self.challenge, body, challenges=challenges)
            except Exception:
                # A raising hook, or a body JSON cannot encode: never a 500.
                logger.exception("okta_bearer: on_error failed; the default body was sent")
        return error_response(error, self.challenge, challenges=challenges)

    def challenges(
        self, guard: DPoPGuard, error: BearerError, scheme: Scheme | None
    ) -> list[tuple[bytes, bytes]]:
        """``WWW-Authenticate`` fields (one per accepted scheme) and ``DPoP-Nonce``.

        RFC 9449 section 7.1: one challenge per accepted scheme; the error's
        attributes go on the scheme the client tried (section 7.2), the other
        scheme's challenge stays bare.  A malformed header (no scheme known)
        counts as an attempt at the one scheme accepted, or at Bearer when
        both are.
        """
        settings = self.challenge
        mode = guard.settings.mode
        on_dpop = scheme == "DPoP" or (scheme is None and mode == "required")
        headers: list[tuple[bytes, bytes]] = []
        if mode != "required":
            tried = not on_dpop and error.error is not None
            value = settings.challenge(error) if tried else settings.bare_challenge
            headers.append((b"www-authenticate", value))
        if mode != "bearer":
            # The DPoP challenge takes RFC 6750's parameters (realm, scope,
            # error, error_description) and adds algs (RFC 9449 section 7.1).
            tried = on_dpop and error.error is not None
            bearer = settings.challenge(error) if tried else settings.bare_challenge
            params = bearer.removeprefix(b"Bearer").lstrip(b" ")
            algs = b'DPoP algs="' + " ".join(guard.settings.algorithms).encode("ascii") + b'"'
            headers.append((b"www-authenticate", algs + b", " + params if params else algs))
        if isinstance(error, UseDPoPNonce):
            headers.append((b"dpop-nonce", error.nonce.encode("ascii")))
        return headers


def _listed(option: str, value: object, what: str) -> tuple[Any, ...]:
    # One string would be its characters, a number not iterable at all: both mistakes.
    if isinstance(value, str):
        raise ConfigurationError(f"{option} must be a list of {what}, not one string")
    if not isinstance(value, Iterable):
        raise ConfigurationError(f"{option} must be a list of {what}, got {type(value).__name__}")
    return tuple(value)


def _check_sync_store(store: object) -> None:
    # A WSGI worker marks proofs from its threads: the store's blocking face,
    # refused here, at start-up, when it has none.
    sync_face(store, "dpop.store")


def with_resource(audience: str | Iterable[str] | None, resource: str) -> list[str]:
    """The accepted audiences plus this API's resource identifier (RFC 8707).

    A token requested with ``resource=`` names that identifier in ``aud``, so
    a verifier built for a resource accepts it by default, whichever driver
    builds it (the middleware, the WSGI gate, Django's settings).
    """
    audiences = [audience] if isinstance(audience, str) else list(audience or ())
    return [*audiences, resource]


def _verifier(
    verifier: object | None,
    issuer: str | None,
    audience: str | Iterable[str] | None,
    resource: ProtectedResource | None,
    events: Events | None,
    side: Side,
    api: str,
) -> tuple[Any, bool]:
    # The verifier to call and whether the driver owns (closes) it.
    if verifier is None and resource is not None and issuer is not None:
        audience = with_resource(audience, resource.resource)
    if verifier is None:
        if issuer is None or audience is None:
            missing = [n for n, v in (("issuer", issuer), ("audience", audience)) if v is None]
            needs = " and ".join(f"{name}=" for name in missing)
            raise ConfigurationError(
                f"{called_api(api)} needs {needs} (or verifier= for another verifier)"
            )
        return TokenVerifier(issuer, audience, events=events), True
    if issuer is not None or audience is not None:
        raise ConfigurationError(
            "pass either verifier= or issuer=/audience=, not both "
            "(other verifier options go to TokenVerifier)"
        )
    if side == "async" and not isinstance(verifier, Verifier):
        raise ConfigurationError(
            "verifier must implement okta_bearer.Verifier (async verify() and aclose())"
        )
    if side == "sync" and not isinstance(verifier, SyncVerifier):
        raise ConfigurationError(
            "verifier must implement okta_bearer.SyncVerifier (verify_sync() and close()) "
            "for a WSGI app"
        )
    return verifier, False


def log_refusal(scope: MutableMapping[str, Any], error: BearerError) -> None:
    """Log a refusal on the ``okta_bearer`` logger (INFO; 503 at WARNING), without the token."""
    level = logging.WARNING if error.status >= 500 else logging.INFO
    if not logger.isEnabledFor(level):
        return
    context = {k: str(v)[:_CONTEXT_LIMIT] for k, v in error.context.items()}
    fields = token_fields(scope)
    # %r on everything the client chose: no newline can forge a second log line.
    logger.log(
        level,
        "okta_bearer: refused %s %r: %d %s (%s)%s",
        scope.get("method", "WEBSOCKET"),
        scope["path"],
        error.status,
        error.error or "no credentials",
        error.reason,
        "".join(f" {k}={v!r}" for k, v in context.items()),
        extra={
            "reason": error.reason,
            "status": error.status,
            "error": error.error,
            "context": context,
            "path": scope["path"],
            **fields,
        },
    )
