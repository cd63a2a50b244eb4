"""The example's views: plain Django with decorators, and a DRF API view."""

from __future__ import annotations

from typing import Any, ClassVar

from django.http import HttpRequest, JsonResponse
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from okta_bearer.django import require_auth, require_scopes


def health(request: HttpRequest) -> JsonResponse:
    """Public (``public_paths``): no token needed."""
    return JsonResponse({"ok": True})


def whoami(request: HttpRequest) -> JsonResponse:
    """Any valid token: the middleware has verified it; ``request.claims`` holds its claims."""
    claims = request.claims
    return JsonResponse({"sub": claims.sub, "scopes": sorted(claims.scopes), "jkt": claims.jkt})


@require_scopes("items:read")
def items(request: HttpRequest) -> JsonResponse:
    """Needs ``items:read``: 403 ``insufficient_scope`` without it."""
    return JsonResponse({"items": ["first item"]})


@require_auth("items:write", max_age=600)
def approve(request: HttpRequest) -> JsonResponse:
    """Needs ``items:write`` and a sign-in less than ten minutes old (RFC 9470 step-up)."""
    return JsonResponse({"approved": True})


class Items(APIView):
    """DRF: reading needs ``items:read``, creating ``items:write``."""

    required_scopes_by_method: ClassVar[dict[str, list[str]]] = {
        "GET": ["items:read"],
        "POST": ["items:write"],
    }

    def get(self, request: Request) -> Response:
        """The items, and who asked (``request.auth`` is the token's claims)."""
        return Response({"items": ["first item"], "caller": str(request.user)})

    def post(self, request: Request) -> Response:
        """Create an item."""
        data: Any = request.data
        return Response({"created": data.get("name", "unnamed")}, status=201)
