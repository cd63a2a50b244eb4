"""The sync gate: judge one WSGI request as the ASGI middleware judges one ASGI request.

Framework-neutral and blocking.  A driver (``okta_bearer.flask``, the Django
middleware) turns its request into an ASGI-shaped scope
(:func:`~okta_bearer._http.scope.scope_from_environ`), asks
:meth:`Gate.judge` for a :class:`Verdict`, and either sends the verdict's
``response`` or calls the view with its ``claims`` (adding its ``headers``
to the answer).  A :class:`~okta_bearer.BearerError` the view raises later
(``require_scopes``, step-up) becomes the same answer through
:meth:`Gate.refuse`.

The checks are the middleware's, in the same order, on the same
:class:`~okta_bearer._http.settings.AuthSettings`:

1. the RFC 9728 metadata document on its paths, then public paths;
2. credentials (one ``Authorization`` field: a WSGI server's comma-joined
   pair is split back into two and refused as two, 400 ``invalid_request``);
3. a token also sent as ``access_token`` in the query: 400;
4. ``verify_sync`` (keys, claims, the verifier's own scopes);
5. possession before scopes: a sender-constrained token sent as Bearer is
   401, and with ``dpop=`` the proof, its binding and its replay mark
   (RFC 9449 sections 4.3, 7.2, 11.1), so a thief learns no scope names;
6. the deployment's ``required_scopes``: 403 ``insufficient_scope``.

Every refusal is logged once (:func:`~okta_bearer._http.settings.log_refusal`)
and, with ``events=``, every request is reported once with its outcome.
"""

from __future__ import annotations

from collections.abc import Iterable, MutableMapping
from dataclasses import dataclass, field
from time import perf_counter
from typing import Any

from .._dpop.guard import DPoPGuard, Scheme
from .._dpop.settings import DPoPSettings
from .._errors import BearerError, InsufficientScope, MissingToken
from .._events import Events, outcome_of
from .._jwt.binding import check_bearer
from .._jwt.claims import Claims
from .._jwt.validation import check_scopes
from .._options import checked_options
from .metadata import ProtectedResource
from .responses import ErrorResponse
from .rfc6750 import parse_authorization
from .scope import check_query, names_access_token, route_path, scope_from_environ
from .settings import AuthSettings, OnError, log_refusal

__all__ = ["Gate", "Verdict", "scope_from_environ"]

Scope = MutableMapping[str, Any]
Headers = list[tuple[bytes, bytes]]


@dataclass
class Verdict:
    """What :meth:`Gate.judge` decided about one request.

    Attributes:
        claims: the verified claims; ``None`` for a public path, an anonymous
            request (``optional=True``), or a refusal.
        response: the answer to send instead of calling the view (a refusal,
            or the RFC 9728 document); ``None`` when the view runs.
        error: the refusal's :class:`~okta_bearer.BearerError`, if refused.
        headers: fields to add to the view's answer (a fresh ``DPoP-Nonce``).
        scheme: the authorization scheme used (``"Bearer"``, ``"DPoP"``).
        public: the path is public (or the metadata document).
        seconds: time spent judging, reported with the outcome.
        reported: whether the outcome was reported to ``events`` already.
    """

    claims: Claims | None = None
    response: ErrorResponse | None = None
    error: BearerError | None = None
    headers: Headers = field(default_factory=list)
    scheme: Scheme | None = None
    public: bool = False
    seconds: float = 0.0
    reported: bool = False

    @property
    def anonymous(self) -> bool:
        """A protected request let through without a token (``optional=True``)."""
        return self.claims is None and self.response is None and not self.public


class _Caller:
    # What the log fields read verified claims from (scope["user"].claims).
    __slots__ = ("claims",)

    def __init__(self, claims: Claims) -> None:
        self.claims = claims


@checked_options
class Gate:
    """Authenticate WSGI requests, blocking: the sync twin of the middleware's judging.

    Takes the options of :class:`~okta_bearer.BearerAuthMiddleware` (without
    ``app`` and ``startup_check``), checked by the same
    :class:`~okta_bearer._http.settings.AuthSettings`.  ``verifier`` must be
    a :class:`~okta_bearer.SyncVerifier` (every verifier of this library
    is); ``dpop=`` needs a store with a blocking face.  Thread-safe: one gate
    serves every thread of a WSGI worker.

    Raises:
        ConfigurationError: an option is wrong or unknown, naming it.
    """

    def __init__(
        self,
        verifier: object | None = None,
        *,
        issuer: str | None = None,
        audience: str | Iterable[str] | None = None,
        public_paths: Iterable[str] = (),
        optional: bool = False,
        realm: str | None = "api",
        required_scopes: Iterable[str] = (),
        error_details: bool = True,
        resource: str | ProtectedResource | None = None,
        on_error: OnError | None = None,
        dpop: DPoPSettings | None = None,
        events: Events | None = None,
        declared_scopes: Iterable[str] = (),
    ) -> None:
        self.settings = AuthSettings(
            verifier=verifier,
            issuer=issuer,
            audience=audience,
            public_paths=public_paths,
            optional=optional,
            realm=realm,
            required_scopes=required_scopes,
            error_details=error_details,
            resource=resource,
            on_error=on_error,
            dpop=dpop,
            events=events,
            side="sync",
            declared_scopes=declared_scopes,
            api="Gate()",
        )
        self.verifier: Any = self.settings.verifier

    def close(self) -> None:
        """Close the verifier if the gate built it (from ``issuer=``/``audience=``)."""
        if self.settings.owns_verifier:
            self.verifier.close()

    def is_public(self, path: str) -> bool:
        """Whether ``path`` (relative to the app's root) is served without a token."""
        return self.settings.is_public(path)

    def metadata(self, scope: Scope) -> ErrorResponse | None:
        """The RFC 9728 document's answer when ``scope`` asks for it (public), else ``None``."""
        settings = self.settings
        paths = settings.metadata_paths
        if not paths or (scope["path"] not in paths and route_path(scope) not in paths):
            return None
        # RFC 9728 section 3: public; GET and HEAD get it, other methods 405.
        assert settings.resource is not None
        status, headers, body = settings.resource.response(scope["method"])
        return ErrorResponse(status, headers, body)

    def judge(self, scope: Scope) -> Verdict:
        """Judge the request ``scope`` (see the module docstring for the order).

        A refusal is logged and reported here; a request let through is
        reported by :meth:`admit` (or :meth:`refuse`, if the view refuses it).
        """
        settings = self.settings
        document = self.metadata(scope)
        if document is not None:
            return Verdict(response=document, public=True)
        if settings.is_public(route_path(scope)):
            return Verdict(public=True)
        start = perf_counter() if settings.events is not None else 0.0
        scheme: Scheme | None = None
        try:
            values = [v for k, v in scope["headers"] if k == b"authorization"]
            guard = settings.dpop
            if guard is not None:
                found = guard.credentials(values)
            else:
                token = parse_authorization(values)
                found = None if token is None else ("Bearer", token)
            if names_access_token(scope):
                check_query(scope, None if found is None else found[1])
            if found is None:
                if not settings.optional:
                    raise MissingToken()
                return Verdict(seconds=self._since(start))
            scheme, token = found
            try:
                claims = self.verifier.verify_sync(token)
            except InsufficientScope as error:
                # The verifier's own required scopes: possession still comes first.
                if error.claims is not None:
                    self._possession(scope, scheme, token, error.claims)
                raise
            headers = self._possession(scope, scheme, token, claims)
            if settings.required_scopes:
                check_scopes(claims, settings.required_scopes)
        except BearerError as error:
            response = self.refuse(scope, error, scheme, seconds=self._since(start))
            return Verdict(response=response, error=error, scheme=scheme, reported=True)
        return Verdict(claims=claims, headers=headers, scheme=scheme, seconds=self._since(start))

    def _possession(self, scope: Scope, scheme: Scheme, token: str, claims: Claims) -> Headers:
        # RFC 9449 section 7.2: a sender-constrained token is not a bearer token,
        # even where DPoP is not enabled; with DPoP on, the proof is checked.
        guard: DPoPGuard | None = self.settings.dpop
        if guard is None:
            if claims.binding is not None:
                check_bearer(claims)
            return []
        proof = guard.check_sync(scope, scheme, token, claims)
        if proof is None:
            return []
        # RFC 9449 section 9: a success carries the current nonce when the
        # proof used the previous one, so the client switches in time.
        nonce = guard.nonce_to_offer(proof)
        return [] if nonce is None else [(b"dpop-nonce", nonce.encode("ascii"))]

    def _since(self, start: float) -> float:
        return perf_counter() - start if self.settings.events is not None else 0.0

    def admit(self, verdict: Verdict) -> None:
        """Report a request the view answered (``ok`` or ``anonymous``), once."""
        events = self.settings.events
        if events is None or verdict.reported or verdict.public or verdict.response is not None:
            return
        verdict.reported = True
        outcome, reason = ("anonymous", "missing_token") if verdict.anonymous else ("ok", "ok")
        events.request(outcome, reason, verdict.seconds)

    def refuse(
        self,
        scope: Scope,
        error: BearerError,
        scheme: Scheme | None = None,
        *,
        claims: Claims | None = None,
        seconds: float = 0.0,
        verdict: Verdict | None = None,
    ) -> ErrorResponse:
        """Log and report the refusal ``error`` and return its answer.

        For an error the view raised after :meth:`judge` let the request in,
        pass that ``verdict``: its scheme places the challenge, its claims
        name the caller in the log, and the request is reported once, as
        refused.
        """
        if verdict is not None:
            scheme = verdict.scheme if scheme is None else scheme
            claims = verdict.claims if claims is None else claims
            seconds = verdict.seconds
            verdict.reported = True
        events = self.settings.events
        if events is not None:
            events.request(outcome_of(error), error.reason, seconds)
        logged = scope if claims is None else {**scope, "user": _Caller(claims)}
        log_refusal(logged, error)
        return self.settings.error_response(error, scheme)
