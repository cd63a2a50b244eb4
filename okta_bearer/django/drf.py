"""Django REST framework: ``BearerAuthentication``, the ``HasScopes`` and ``StepUp`` permissions.

Install with ``pip install 'okta-bearer[drf]'``::

    REST_FRAMEWORK = {
        "DEFAULT_AUTHENTICATION_CLASSES": ["okta_bearer.django.drf.BearerAuthentication"],
        "DEFAULT_PERMISSION_CLASSES": ["okta_bearer.django.drf.HasScopes"],
        "EXCEPTION_HANDLER": "okta_bearer.django.drf.exception_handler",
    }

    class Items(APIView):
        required_scopes_by_method = {"GET": ["items:read"], "POST": ["items:write"]}

The token is judged by the same gate as the Django middleware (configured
from ``settings.OKTA_BEARER``); behind the middleware, the middleware's
verdict is reused and nothing is verified twice.

Methods: DRF authenticates and checks permissions in ``initial()``, before it
picks the handler, so ``OPTIONS`` (which DRF answers by itself with the view's
metadata), ``HEAD`` and methods the view does not serve are judged like
``GET``: no token, no answer.  :class:`HasScopes` decides what each method
needs; a method it is not told about is refused (see there).  :class:`StepUp`
asks for a strong or recent sign-in (RFC 9470) on the methods it names.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

try:
    import rest_framework  # noqa: F401 - only to say which extra is missing
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        "okta_bearer.django.drf needs Django REST framework: pip install 'okta-bearer[drf]'"
    ) from exc

from django.http import HttpRequest
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response

from .._errors import BearerError, ConfigurationError, InsufficientScope, MissingToken
from .._http.require import check_claims
from .._http.responses import ErrorResponse
from .._http.stepup import StepUpPolicy
from .._jwt.claims import Claims
from .._jwt.validation import check_scopes
from ._request import add_headers, judged
from .user import TokenUser

__all__ = ["BearerAuthentication", "BearerRefusal", "HasScopes", "StepUp", "exception_handler"]


class BearerRefusal(exceptions.APIException):
    """A refusal as DRF sees it: the gate's status, body, challenge and ``Retry-After``.

    DRF's own exception handler copies ``auth_header`` to ``WWW-Authenticate``
    and ``wait`` to ``Retry-After``, and sends ``detail`` (the RFC 6750 body)
    as it is.  :func:`exception_handler` adds the other fields of the answer
    (``Cache-Control: no-store``, ``DPoP-Nonce``).

    Attributes:
        error: the :class:`~okta_bearer.BearerError` refused.
        answer: the complete answer, as the Django middleware would send it.
    """

    def __init__(self, error: BearerError, answer: ErrorResponse) -> None:
        super().__init__()
        self.error = error
        self.answer = answer
        self.status_code = answer.status
        # The body as built: DRF would turn None values into "None" strings.
        self.detail: Any = json.loads(answer.body)
        fields = _fields(answer.headers)
        self.auth_header = fields.get("www-authenticate")
        self.wait = getattr(error, "retry_after", None) if answer.status == 503 else None


def _fields(headers: Iterable[tuple[bytes, bytes]]) -> dict[str, str]:
    # Raw pairs to one value per name: repeated challenges comma-joined (RFC 9110 11.6.1).
    fields: dict[str, str] = {}
    for name, value in headers:
        key, text = name.decode("latin-1").lower(), value.decode("latin-1")
        fields[key] = f"{fields[key]}, {text}" if key in fields else text
    return fields


def _django(request: Request | HttpRequest) -> HttpRequest:
    inner = getattr(request, "_request", request)
    assert isinstance(inner, HttpRequest)
    return inner


def _refuse(request: Request | HttpRequest, error: BearerError) -> BearerRefusal:
    state = judged(_django(request))
    verdict = state.verdict if state.verdict.response is None else None
    return BearerRefusal(error, state.gate.refuse(state.scope, error, verdict=verdict))


class BearerAuthentication(BaseAuthentication):
    """Authenticate a DRF request by its Bearer (or DPoP) access token.

    ``authenticate`` returns ``(user, claims)``: ``request.auth`` is the
    token's :class:`~okta_bearer.Claims` and ``request.user`` a
    :class:`~okta_bearer.django.TokenUser` (override :meth:`get_user` to map
    the token's subject to your own user model).  No credentials at all: no
    opinion (``None``), so another authentication class may try and the
    permission classes decide (a 401 then carries this class's challenge).
    A token that is sent must be valid: else :class:`BearerRefusal`, with the
    middleware's status and challenge (400, 401, 403, or 503 with
    ``Retry-After``), whatever the order of the authentication classes.
    """

    def authenticate(self, request: Request) -> tuple[Any, Claims] | None:
        """``(user, claims)``, ``None`` without credentials, or raise :class:`BearerRefusal`."""
        state = judged(_django(request))
        verdict = state.verdict
        error = verdict.error
        if error is not None and not isinstance(error, MissingToken):
            assert verdict.response is not None
            raise BearerRefusal(error, verdict.response)
        if verdict.claims is None:
            return None  # a public path, or an anonymous request ("optional": True)
        state.gate.admit(verdict)  # reported once, as the middleware reports it
        return self.get_user(verdict.claims), verdict.claims

    def get_user(self, claims: Claims) -> Any:
        """The ``request.user`` for ``claims``: a :class:`TokenUser` (no database query)."""
        return TokenUser(claims)

    def authenticate_header(self, request: Request) -> str:
        """The challenge of DRF's own 401 (``NotAuthenticated``): Bearer, and DPoP when accepted."""
        state = judged(_django(request))
        answer = state.gate.settings.error_response(MissingToken())
        return _fields(answer.headers)["www-authenticate"]


_TOKENLESS = "This view needs an access token"
_UNDECLARED = "No scopes are declared for this method on this view"


class HasScopes(BasePermission):
    """Require the scopes a view declares, per view or per method.

    On the view::

        required_scopes = ["items:read"]                      # every method
        required_scopes_by_method = {"GET": ["items:read"], "POST": ["items:write"]}

    A method's scopes are its ``required_scopes_by_method`` entry; ``HEAD``
    without one uses ``GET``'s; a method without an entry falls back to
    ``required_scopes``; when the view has a method table but neither applies
    (``OPTIONS``, ``PUT``, a method DRF would answer 405), the request is
    refused with 403, so a method added later stays closed until its scopes
    are declared (``"OPTIONS": []`` opens the metadata to any valid token).  A
    view that declares neither only needs a valid token.

    No token: 401 with the challenge (403 "This view needs an access token"
    when another of the view's authentication classes, a session, signed the
    caller in); a missing scope: 403 ``insufficient_scope`` with
    ``WWW-Authenticate: Bearer error="insufficient_scope", scope="..."``
    naming every scope required.  Not meant to be negated: ``~HasScopes``
    lets tokenless callers in, as DRF's ``~IsAuthenticated`` does.
    """

    message = _TOKENLESS

    def has_permission(self, request: Request, view: Any) -> bool:
        """Whether the token grants the scopes of ``request.method`` on ``view``."""
        claims = request.auth
        if not isinstance(claims, Claims):
            # DRF answers 401 (with our challenge), or 403 with this message
            # when another authentication class signed the caller in.
            self.message = _TOKENLESS
            return False
        scopes = self.scopes_for(view, request.method or "")
        if scopes is None:
            self.message = _UNDECLARED
            return False
        if scopes:
            try:
                check_scopes(claims, scopes)
            except InsufficientScope as error:
                raise _refuse(request, error) from None
        return True

    @staticmethod
    def scopes_for(view: Any, method: str) -> tuple[str, ...] | None:
        """The scopes ``method`` needs on ``view``; ``None`` when it is closed (undeclared)."""
        table: Mapping[str, Iterable[str]] | None = getattr(view, "required_scopes_by_method", None)
        default: Iterable[str] | None = getattr(view, "required_scopes", None)
        if table is not None:
            found = table.get(method)
            if found is None and method == "HEAD":
                found = table.get("GET")
            if found is None:
                found = default
            return None if found is None else _scopes(found)
        return () if default is None else _scopes(default)


class StepUp(BasePermission):
    """Require a strong or recent enough sign-in (RFC 9470 step-up) on a view's methods.

    Configured where it is listed, and checked there (a mistake is a
    :class:`~okta_bearer.ConfigurationError` when the view class is defined)::

        class Payments(APIView):
            required_scopes_by_method = {"GET": ["payments:read"], "POST": ["payments:write"]}
            permission_classes = [
                HasScopes,
                StepUp(acr_values=["urn:okta:loa:2fa:any"], max_age=300, methods=["POST"]),
            ]

    ``acr_values``: the token's ``acr`` must be one of them; ``max_age``: its
    ``auth_time`` at most that many seconds old (both as in
    :func:`okta_bearer.django.require_auth`, by the same rule).  ``methods``:
    the methods that need it; ``None`` (the default) means every method,
    ``OPTIONS``, ``HEAD`` and methods the view does not serve included.  With
    a list, ``HEAD`` follows ``GET`` and any other method is left to the
    other permission classes (:class:`HasScopes` closes a method it is not
    told about).

    A sign-in that falls short is 401 ``insufficient_user_authentication``
    with ``acr_values``/``max_age`` in the challenge (RFC 9470 section 3),
    and the scopes :class:`HasScopes` requires of the method in ``scope``, so
    the client's new token keeps them.  No token: DRF's 401 with this
    library's challenge.  The instance is its own permission class (DRF
    calls each entry of ``permission_classes``) and holds no request state.

    Raises:
        ConfigurationError: ``acr_values``, ``max_age`` or ``methods`` is
            invalid, or neither ``acr_values`` nor ``max_age`` is given.
    """

    def __init__(
        self,
        *,
        acr_values: Iterable[str] = (),
        max_age: int | None = None,
        methods: Iterable[str] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.policy = StepUpPolicy(acr_values, max_age)
        if not self.policy:
            raise ConfigurationError(
                "StepUp needs acr_values or max_age (else it requires nothing)"
            )
        if isinstance(methods, str):
            raise ConfigurationError(
                "StepUp methods must be a list of HTTP methods, not one string"
            )
        self.methods: frozenset[str] | None = None
        if methods is not None:
            listed = tuple(methods)
            if not listed or not all(isinstance(m, str) and m.isalpha() for m in listed):
                raise ConfigurationError("StepUp methods must be HTTP method names, or None")
            self.methods = frozenset(m.upper() for m in listed)
        self.clock = clock

    def __call__(self) -> StepUp:
        """This permission, as DRF instantiates an entry of ``permission_classes``."""
        return self

    def applies_to(self, method: str) -> bool:
        """Whether ``method`` needs the step-up (``HEAD`` follows ``GET``)."""
        methods = self.methods
        if methods is None or method in methods:
            return True
        return method == "HEAD" and "GET" in methods

    def has_permission(self, request: Request, view: Any) -> bool:
        """Whether the sign-in behind the token is strong and recent enough for this method."""
        claims = request.auth
        if not isinstance(claims, Claims):
            return False  # DRF answers 401 (with our challenge) or 403
        method = request.method or ""
        if not self.applies_to(method):
            return True
        # The method's scopes, named in the challenge (and checked, as HasScopes would).
        scopes = HasScopes.scopes_for(view, method) or ()
        try:
            check_claims(claims, scopes, self.policy, self.clock())
        except BearerError as error:
            raise _refuse(request, error) from None
        return True


def _scopes(value: Iterable[str]) -> tuple[str, ...]:
    # One string is one scope, not its characters.
    return (value,) if isinstance(value, str) else tuple(value)


def exception_handler(exc: Exception, context: Mapping[str, Any]) -> Response | None:
    """DRF's exception handler, with a :class:`BearerRefusal` answered field for field.

    Set ``REST_FRAMEWORK["EXCEPTION_HANDLER"]`` to it so a refusal carries
    every field the middleware sends: ``Cache-Control: no-store`` and, with
    DPoP nonces on, the ``DPoP-Nonce`` a client needs to retry.  A
    :class:`~okta_bearer.BearerError` a view raises itself (a scope check by
    hand) gets the same answer, with or without the middleware (DRF's own
    handler would leave it to become a 500).
    """
    # Imported here: rest_framework.views reads DEFAULT_AUTHENTICATION_CLASSES,
    # which names this module, at import time.
    from rest_framework.views import exception_handler as drf_exception_handler

    request = context.get("request")
    if isinstance(exc, BearerError) and isinstance(request, Request | HttpRequest):
        exc = _refuse(request, exc)
    response: Response | None = drf_exception_handler(exc, context)
    if response is not None and isinstance(exc, BearerRefusal):
        for name in _fields(exc.answer.headers):
            if name != "content-length" and name in response:
                del response[name]
        add_headers(response, [(k, v) for k, v in exc.answer.headers if k != b"content-length"])
    return response
