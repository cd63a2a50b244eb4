"""Flask integration: every request of an app (or of chosen blueprints) needs a valid token.

::

    from okta_bearer.flask import BearerAuth, current_claims, public, require_scopes

    app = Flask(__name__)
    BearerAuth(app, issuer="https://dev-123456.okta.com/oauth2/default", audience="api://default")

    @app.get("/items")
    @require_scopes("items:read")
    def items():
        return {"owner": current_claims.sub}

:class:`BearerAuth` takes the options of
:class:`~okta_bearer.BearerAuthMiddleware` (checked by the same code, so an
option means the same thing and a mistake raises the same
:class:`~okta_bearer.ConfigurationError`), and judges each request with the
same checks in the same order (:mod:`okta_bearer._http.gate`), through the
verifier's blocking face (``verify_sync``).

What is authenticated (deny by default):

* every request of the app, or with ``blueprints=`` every request routed to
  those blueprints (and the blueprints nested in them), except public paths
  (``public_paths=``, matched on the path below ``SCRIPT_NAME``) and views
  marked :func:`public`;
* what Flask answers by itself included: the automatic ``OPTIONS`` (200 with
  ``Allow``) and ``HEAD`` of a protected route get a 401 without a token, and
  so does a method the route does not take, and a path that routes nowhere:
  a 405 or a 404 comes only after authentication, so an anonymous caller
  cannot map the app's routes or methods.  With ``blueprints=``, a path that
  routes nowhere belongs to no blueprint and gets Flask's own 404; a method a
  protected route does not take is still a 401 first, and so is a redirect
  (``strict_slashes``, merged slashes) to a protected route.  A
  :func:`public` view's other methods get their 405 without a token (the
  route is public), unless the path also routes to a protected view: an
  ``Allow`` listing its methods, or a redirect to it, needs a token;
* the app's ``before_request`` hooks run after authentication (the check is
  put first); ``url_value_preprocessors`` run before it, as Flask runs them
  before every ``before_request`` hook.

The claims are on ``flask.g.claims`` (``None`` for a public or anonymous
request) and behind the :data:`current_claims` proxy, which raises
:class:`~okta_bearer.MissingToken` (401) where there are none.  Refusals are
RFC 6750 JSON answers with ``WWW-Authenticate``; a
:class:`~okta_bearer.BearerError` raised by a view (:func:`require_scopes`,
:func:`require_auth`) becomes the same answer.  With ``resource=`` the RFC 9728
document is served at its well-known paths.  ``dpop=`` needs a replay store
with a blocking face (``MemoryStore``, ``RedisStore``: shared by every
gunicorn worker).  The WSGI server joins two ``Authorization`` headers into one
comma-separated value: it is split back and refused as two headers, 400
``invalid_request`` (see :func:`okta_bearer._http.scope.scope_from_environ`).
"""

from __future__ import annotations

import functools
import inspect
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar, cast
from urllib.parse import unquote, urlsplit

try:
    from flask import Blueprint, Flask, Response, after_this_request, current_app, g, request
    from werkzeug.exceptions import HTTPException, MethodNotAllowed
    from werkzeug.local import LocalProxy
    from werkzeug.routing import RequestRedirect, RoutingException
except ImportError as exc:  # pragma: no cover - exercised in a subprocess test
    raise ImportError("okta_bearer.flask needs Flask: pip install 'okta-bearer[flask]'") from exc

from ._dpop.settings import DPoPSettings
from ._errors import BearerError, ConfigurationError
from ._events import Events
from ._http.gate import Gate, Verdict
from ._http.metadata import ProtectedResource
from ._http.require import check_claims
from ._http.responses import ErrorResponse
from ._http.rfc6750 import is_scope_token
from ._http.scope import Scope, scope_from_environ
from ._http.settings import OnError
from ._http.startup import StartupCheck, StartupCheckFailed, check_option, warm_up_sync
from ._http.stepup import StepUpPolicy
from ._jwt.claims import Claims
from ._options import checked_options

__all__ = ["BearerAuth", "current_claims", "public", "require_auth", "require_scopes"]

_F = TypeVar("_F", bound=Callable[..., Any])
_EXTENSION = "okta_bearer"
_READY = "okta_bearer.ready"
_STATE = "_okta_bearer"
_PUBLIC = "_okta_bearer_public"


@dataclass
class _State:
    # What the request's hooks share (on flask.g).
    scope: Scope
    verdict: Verdict | None


_NO_STEP_UP = StepUpPolicy()


def _claims() -> Claims:
    return check_claims(g.get("claims"), (), _NO_STEP_UP, None)


#: The verified claims of the current request.  Reading it where the request
#: has none (a public view, an anonymous request) raises
#: :class:`~okta_bearer.MissingToken`, answered 401 with a bare challenge.
current_claims: Claims = cast(Claims, LocalProxy(_claims))


def public(view: _F) -> _F:
    """Mark a view as served without a token (every method its rule routes).

    Put it under the route decorator (or anywhere: it marks the function).
    ``flask.g.claims`` is ``None`` there; a token sent anyway is not read.
    A class-based view is public as a whole through its ``decorators = [public]``;
    marking one method of a ``MethodView`` marks no view function, so every
    method stays protected.
    """
    setattr(view, _PUBLIC, True)
    return view


@checked_options
class BearerAuth:
    """The Flask extension: authenticate every request of an app or of chosen blueprints.

    Args:
        app: the app to protect now; or call :meth:`init_app` later.
        blueprints: protect only requests routed to these blueprints
            (``Blueprint`` objects or registered names; nested blueprints
            follow their parent).  ``None`` (the default): the whole app.
        verifier: a :class:`~okta_bearer.SyncVerifier` (every verifier of
            this library is one); or leave it out and pass ``issuer=`` and
            ``audience=``.
        issuer: the issuer URL, when ``verifier`` is not given.
        audience: the accepted audience(s), when ``verifier`` is not given.
        public_paths: paths served without a token (``/docs/`` covers
            everything below it), relative to ``SCRIPT_NAME``.
        optional: let requests without a token reach the views, with
            ``g.claims`` ``None``; a token that is sent must be valid.
        realm: the ``realm`` of challenges (``None``: none).
        required_scopes: scopes every protected request must hold.
        error_details: name ``error``/``error_description`` in answers.
        resource: this API's resource identifier or a
            :class:`~okta_bearer.ProtectedResource`: the RFC 9728 document
            is served and challenges name its URL.
        on_error: ``on_error(error) -> dict``, the JSON body of a refusal.
        dpop: a :class:`~okta_bearer.DPoPSettings` to accept DPoP (its
            store needs a blocking face: ``MemoryStore``, ``RedisStore``).
        events: metric hooks (:class:`okta_bearer.metrics.PrometheusEvents`).
        startup_check: in :meth:`init_app` the verifier fetches the issuer's
            metadata and keys (``warm_up_sync()``, bounded by its timeouts),
            so the first request pays nothing and a wrong issuer URL or an
            unreachable host is logged at ERROR before any request.
            ``"warn"`` (the default) goes on anyway (requests get 503 until
            keys can be had); ``"exit"`` raises a ``RuntimeError``
            (``StartupCheckFailed``) from ``init_app``, naming the issuer
            and the problem, so the app is never served (gunicorn stops: a
            worker that fails to boot halts it, and under ``--preload`` the
            master fails before forking);
            ``"off"`` skips the check.  Keys fetched before gunicorn forks
            are kept by every worker, which opens its own connections.

    Every option means what it means for
    :class:`~okta_bearer.BearerAuthMiddleware`: both are checked by the
    same code.

    Raises:
        ConfigurationError: an option is wrong or unknown, naming it.
    """

    def __init__(
        self,
        app: Flask | None = None,
        *,
        verifier: object | None = None,
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
        blueprints: Iterable[Blueprint | str] | None = None,
        startup_check: StartupCheck = "warn",
    ) -> None:
        self._startup_check = check_option(startup_check)
        self.gate = Gate(
            verifier,
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
        )
        self._names: frozenset[str] | None = None
        self._objects: tuple[Blueprint, ...] = ()
        if blueprints is not None:
            if isinstance(blueprints, (str, Blueprint)):
                raise ConfigurationError("blueprints must be a list of blueprints or names")
            listed = tuple(blueprints)
            if not listed or not all(isinstance(b, (str, Blueprint)) for b in listed):
                raise ConfigurationError(
                    "blueprints must name at least one Blueprint (or its name), or be None"
                )
            self._names = frozenset(b for b in listed if isinstance(b, str))
            self._objects = tuple(b for b in listed if isinstance(b, Blueprint))
        if app is not None:
            self.init_app(app)

    @property
    def verifier(self) -> Any:
        """The verifier tokens are judged with."""
        return self.gate.verifier

    def init_app(self, app: Flask) -> None:
        """Install the checks on ``app`` (first ``before_request`` hook); run the start-up check.

        Raises:
            ConfigurationError: ``app`` already has a ``BearerAuth``.
            RuntimeError: ``startup_check="exit"`` and the issuer's
                metadata or keys cannot be had (nothing was installed).
        """
        if _EXTENSION in app.extensions:
            raise ConfigurationError("this Flask app already has a BearerAuth")
        try:
            warm_up_sync(self.gate.verifier, self._startup_check)
        except StartupCheckFailed:
            self.gate.close()  # a verifier built here, as the ASGI side closes its own
            raise
        app.extensions[_EXTENSION] = self
        # First: no hook of the app runs for a request refused here.
        app.before_request_funcs.setdefault(None, []).insert(0, self._authenticate)
        if self.gate.settings.events is not None:
            # Only to report admitted requests: no hook costs a request without events.
            app.teardown_request(self._report)
        app.register_error_handler(BearerError, self._answer_error)

    # -- the hooks ------------------------------------------------------------

    def _authenticate(self) -> Response | None:
        if _READY not in current_app.extensions:
            self._first_request()
        scope = scope_from_environ(request.environ)
        state = _State(scope, None)
        setattr(g, _STATE, state)
        g.claims = None
        metadata = self.gate.metadata(scope)
        if metadata is not None:
            return _flask_response(metadata)
        if not self._guards(_endpoints()):
            return None
        verdict = self.gate.judge(scope)
        state.verdict = verdict
        if verdict.response is not None:
            return _flask_response(verdict.response)
        g.claims = verdict.claims
        if verdict.headers:
            # A fresh DPoP-Nonce (RFC 9449 section 9) on the view's answer.
            after_this_request(functools.partial(_add_headers, verdict.headers))
        return None

    def _guards(self, endpoints: Iterable[str]) -> bool:
        # Whether the answer needs a token: it tells of a view that is
        # neither public nor outside the protected blueprints.  No endpoint
        # (a 404): the whole app is protected, a blueprint is not concerned.
        views = current_app.view_functions
        found = False
        for endpoint in endpoints:
            found = True
            if not getattr(views.get(endpoint), _PUBLIC, False) and self._protects(endpoint):
                return True
        return not found and self._names is None

    def _protects(self, endpoint: str) -> bool:
        # Whole app: everything.  Blueprints: requests routed into one of them.
        if self._names is None:
            return True
        blueprints = current_app.blueprints
        name = endpoint.rpartition(".")[0]
        while name:
            if name in self._names or blueprints.get(name) in self._objects:
                return True
            name = name.rpartition(".")[0]
        return False

    def _first_request(self) -> None:
        # Once per app, when every blueprint is registered (Flask refuses new
        # ones after the first request).
        if self._names is not None:
            # A misspelt or unregistered blueprint would leave its routes
            # open: refuse to serve (a 500, logged by Flask) until it is fixed.
            registered = current_app.blueprints
            missing = sorted(n for n in self._names if n not in registered)
            missing += [b.name for b in self._objects if b not in registered.values()]
            if missing:
                raise ConfigurationError(
                    "BearerAuth(blueprints=...) names blueprints this app has not registered: "
                    + ", ".join(missing)
                )
        # Flask asks a blueprint's error handlers before the app's: a
        # blueprint's errorhandler(Exception) would answer a view's refusal
        # (require_scopes, current_claims) with its own body, a 500, or a 200,
        # without the challenge.  The app's BearerError handler (the
        # extension's, or one the user put in its place) is put on each
        # blueprint too; a blueprint's own BearerError handler stays.
        handlers = current_app.error_handler_spec
        answer = handlers[None][None].get(BearerError, self._answer_error)
        for name in current_app.blueprints:
            handlers[name][None].setdefault(BearerError, answer)
        current_app.extensions[_READY] = True

    def _report(self, _exc: BaseException | None) -> None:
        state: _State | None = g.get(_STATE)
        if state is not None and state.verdict is not None:
            self.gate.admit(state.verdict)

    def _answer_error(self, error: BearerError) -> Response:
        # A BearerError from a view (require_scopes, current_claims) or a hook.
        state: _State | None = g.get(_STATE)
        scope = state.scope if state is not None else scope_from_environ(request.environ)
        verdict = state.verdict if state is not None else None
        return _flask_response(self.gate.refuse(scope, error, verdict=verdict))


def _add_headers(headers: list[tuple[bytes, bytes]], response: Response) -> Response:
    for name, value in headers:
        response.headers.add(name.decode("latin-1"), value.decode("latin-1"))
    return response


def _endpoints() -> Iterable[str]:
    # The endpoints whose views the answer speaks for.  Usually the routed
    # view's alone; Flask's own OPTIONS (its Allow) and 405 list the methods
    # of every view on the path, and a redirect (strict_slashes, merged
    # slashes) tells that its target exists: those answer for those views.
    rule = request.url_rule
    if rule is not None:
        if request.method != "OPTIONS" or not getattr(rule, "provide_automatic_options", False):
            return (str(rule.endpoint),)
        return _endpoints_of(None, _adapter_methods())
    error = request.routing_exception
    if isinstance(error, MethodNotAllowed):
        return _endpoints_of(None, error.valid_methods or ())
    if isinstance(error, RequestRedirect):
        target = unquote(urlsplit(error.new_url).path).removeprefix(request.root_path)
        return _endpoints_of(target, (request.method,))
    return ()


def _adapter_methods() -> Iterable[str]:
    adapter = current_app.create_url_adapter(request)
    return () if adapter is None else adapter.allowed_methods()


def _endpoints_of(path: str | None, methods: Iterable[str]) -> list[str]:
    # Each method's endpoint on ``path`` (``None``: the request's path).
    adapter = current_app.create_url_adapter(request)
    found: list[str] = []
    if adapter is None:
        return found
    for method in methods:
        try:
            rule, _ = adapter.match(path, method=method, return_rule=True)
        except (HTTPException, RoutingException):
            continue
        found.append(str(rule.endpoint))
    return found


def _flask_response(answer: ErrorResponse) -> Response:
    headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in answer.headers]
    return Response(answer.body, status=answer.status, headers=headers)


# -- decorators ----------------------------------------------------------------


@checked_options
def require_auth(
    *scopes: str,
    acr_values: Iterable[str] = (),
    max_age: int | None = None,
    clock: Callable[[], float] = time.time,
) -> Callable[[_F], _F]:
    """Decorate a view so it runs only for a token with ``scopes`` and a strong enough sign-in.

    A missing scope is 403 ``insufficient_scope`` naming every scope the view
    needs; ``acr_values`` (the token's ``acr`` must be one of them) and
    ``max_age`` (its ``auth_time`` at most that many seconds old) give 401
    ``insufficient_user_authentication`` with the requirement in the
    challenge (RFC 9470 section 3).  An anonymous request is 401.  Works on
    ``async def`` views too.  ``clock`` is injectable for tests.

    Raises:
        ConfigurationError: at declaration, for a scope that is not an RFC
            6749 scope token, or invalid ``acr_values``/``max_age``.
    """
    if not all(isinstance(s, str) and is_scope_token(s) for s in scopes):
        raise ConfigurationError("require_scopes scopes must be RFC 6749 scope tokens")
    policy = StepUpPolicy(acr_values, max_age)

    def decorate(view: _F) -> _F:
        if inspect.iscoroutinefunction(view):

            @functools.wraps(view)
            async def checked_async(*args: Any, **kwargs: Any) -> Any:
                check_claims(g.get("claims"), scopes, policy, clock())
                return await view(*args, **kwargs)

            return cast(_F, checked_async)

        @functools.wraps(view)
        def checked(*args: Any, **kwargs: Any) -> Any:
            check_claims(g.get("claims"), scopes, policy, clock())
            return view(*args, **kwargs)

        return cast(_F, checked)

    return decorate


@checked_options
def require_scopes(*scopes: str) -> Callable[[_F], _F]:
    """Decorate a view so it runs only for a token holding every one of ``scopes`` (else 403)."""
    return require_auth(*scopes)
