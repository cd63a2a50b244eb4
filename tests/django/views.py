"""Views of the test project: plain, decorated, async, class-based and DRF."""

from __future__ import annotations

from typing import Any, ClassVar

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.decorators import method_decorator
from django.views import View
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from okta_bearer import InsufficientScope
from okta_bearer.django import require_auth, require_scopes
from okta_bearer.django.drf import HasScopes, StepUp

ACR = "urn:okta:loa:2fa:any"

#: Every view that ran, by name: a refused request must leave no trace here.
REACHED: list[str] = []


def _caller(request: HttpRequest, name: str) -> JsonResponse:
    REACHED.append(name)
    claims = getattr(request, "claims", None)
    return JsonResponse({"view": name, "sub": None if claims is None else claims.sub})


def health(request: HttpRequest) -> JsonResponse:
    """A public path."""
    return _caller(request, "health")


def items(request: HttpRequest) -> JsonResponse:
    """Any valid token (the middleware protects it)."""
    return _caller(request, "items")


@require_scopes("items:write")
def write(request: HttpRequest) -> JsonResponse:
    """Needs items:write."""
    return _caller(request, "write")


@require_auth("items:read", acr_values=["urn:okta:loa:2fa:any"], max_age=300)
def pay(request: HttpRequest) -> JsonResponse:
    """Needs a recent second factor."""
    return _caller(request, "pay")


@require_scopes("items:read")
async def async_items(request: HttpRequest) -> JsonResponse:
    """An async view with a scope."""
    return _caller(request, "async_items")


@require_scopes("items:read")
def public_scoped(request: HttpRequest) -> JsonResponse:
    """On a public path, but needs a scope: anonymous callers are 401."""
    return _caller(request, "public_scoped")


def raises(request: HttpRequest) -> HttpResponse:
    """A view that refuses by raising, as a hand-written scope check would."""
    raise InsufficientScope(["admin"], request.claims.scopes)


class Things(View):
    """A class-based view: GET for any token, POST with items:write."""

    def get(self, request: HttpRequest) -> JsonResponse:
        return _caller(request, "things.get")

    @method_decorator(require_scopes("items:write"))
    def post(self, request: HttpRequest) -> JsonResponse:
        return _caller(request, "things.post")


class DrfItems(APIView):
    """DRF, scopes per method."""

    required_scopes_by_method: ClassVar = {"GET": ["items:read"], "POST": ["items:write"]}

    def get(self, request: Request) -> Response:
        REACHED.append("drf.get")
        return Response({"view": "drf.get", "sub": request.auth.sub, "user": str(request.user)})

    def post(self, request: Request) -> Response:
        REACHED.append("drf.post")
        return Response({"view": "drf.post"})


class DrfAny(APIView):
    """DRF, one scope list for every method."""

    required_scopes: ClassVar = ["items:read"]

    def get(self, request: Request) -> Response:
        REACHED.append("drf_any.get")
        return Response({"view": "drf_any.get"})


class DrfOpen(APIView):
    """DRF, a view that lets anyone in (under a public path)."""

    permission_classes: ClassVar = [AllowAny]

    def get(self, request: Request) -> Response:
        REACHED.append("drf_open.get")
        auth: Any = request.auth
        return Response({"view": "drf_open.get", "sub": None if auth is None else auth.sub})


class DrfPay(APIView):
    """DRF with step-up on POST only: a recent second factor, and payments:write."""

    required_scopes_by_method: ClassVar = {
        "GET": ["items:read"],
        "POST": ["payments:write"],
        "OPTIONS": [],
    }
    permission_classes: ClassVar = [
        HasScopes,
        StepUp(acr_values=[ACR], max_age=300, methods=["POST"]),
    ]

    def get(self, request: Request) -> Response:
        REACHED.append("drf_pay.get")
        return Response({"view": "drf_pay.get"})

    def post(self, request: Request) -> Response:
        REACHED.append("drf_pay.post")
        return Response({"view": "drf_pay.post"})


class DrfStepUpAll(APIView):
    """DRF with step-up on every method (OPTIONS, HEAD and unknown ones included)."""

    required_scopes: ClassVar = ["items:read"]
    permission_classes: ClassVar = [HasScopes, StepUp(acr_values=[ACR])]

    def get(self, request: Request) -> Response:
        REACHED.append("drf_stepup_all.get")
        return Response({"view": "drf_stepup_all.get"})
