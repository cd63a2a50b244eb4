"""Views and URLs for tests/django/test_attacks.py (``ROOT_URLCONF`` overridden there)."""

from __future__ import annotations

from typing import ClassVar

from django.urls import path
from rest_framework.authentication import BaseAuthentication
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter
from rest_framework.throttling import UserRateThrottle
from rest_framework.views import APIView
from rest_framework.viewsets import ViewSet

from okta_bearer import InsufficientScope
from okta_bearer.django.drf import BearerAuthentication


class AlwaysSignedIn(BaseAuthentication):
    """Stands for a session (or any non-token) authentication that succeeds."""

    def authenticate(self, request: Request) -> tuple[object, None]:
        return object(), None


class OnePerMinute(UserRateThrottle):
    """DRF's per-user throttle, one request a minute."""

    rate = "1/min"


class Throttled(APIView):
    """Any valid token, throttled per user by DRF."""

    throttle_classes: ClassVar = [OnePerMinute]

    def get(self, request: Request) -> Response:
        return Response({"sub": request.auth.sub})


class RaisesScope(APIView):
    """A DRF view that checks a scope by hand and raises the library's refusal."""

    def get(self, request: Request) -> Response:
        raise InsufficientScope(["admin"], request.auth.scopes)


urlpatterns = [
    path("throttled", Throttled.as_view()),
    path("drf/raises", RaisesScope.as_view()),
]


class SessionFirst(APIView):
    """DRF view that tries another authentication class before the token."""

    authentication_classes: ClassVar = [AlwaysSignedIn, BearerAuthentication]
    required_scopes: ClassVar = ["items:read"]

    def get(self, request: Request) -> Response:
        return Response({"view": "session_first"})


urlpatterns.append(path("drf/session-first", SessionFirst.as_view()))


class Reports(ViewSet):
    """A ViewSet: items:read for its list, admin for one action, by the action's own table."""

    required_scopes_by_method: ClassVar = {"GET": ["items:read"]}

    def list(self, request: Request) -> Response:
        return Response({"view": "reports.list"})

    @action(detail=False, methods=["get"], required_scopes_by_method={"GET": ["admin"]})
    def audit(self, request: Request) -> Response:
        return Response({"view": "reports.audit"})


router = SimpleRouter()
router.register("reports", Reports, basename="reports")
urlpatterns += router.urls
