"""Views and URLs for tests/django/test_attacks.py (``ROOT_URLCONF`` overridden there)."""

from __future__ import annotations

from typing import ClassVar

from django.urls import path
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import UserRateThrottle
from rest_framework.views import APIView


class OnePerMinute(UserRateThrottle):
    """DRF's per-user throttle, one request a minute."""

    rate = "1/min"


class Throttled(APIView):
    """Any valid token, throttled per user by DRF."""

    throttle_classes: ClassVar = [OnePerMinute]

    def get(self, request: Request) -> Response:
        return Response({"sub": request.auth.sub})


urlpatterns = [
    path("throttled", Throttled.as_view()),
]
