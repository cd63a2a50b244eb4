"""URLs of the test project."""

from __future__ import annotations

from django.urls import path

from . import views

urlpatterns = [
    path("health", views.health),
    path("items", views.items),
    path("write", views.write),
    path("pay", views.pay),
    path("async/items", views.async_items),
    path("public/scoped", views.public_scoped),
    path("public/drf", views.DrfOpen.as_view()),
    path("drf/open", views.DrfOpen.as_view()),
    # Where the RFC 9728 document of resource "https://api.example.test/drf" lives.
    path(".well-known/oauth-protected-resource/drf", views.DrfOpen.as_view()),
    path("raises", views.raises),
    path("things", views.Things.as_view()),
    path("drf/items", views.DrfItems.as_view()),
    path("drf/any", views.DrfAny.as_view()),
    path("drf/pay", views.DrfPay.as_view()),
    path("drf/stepup", views.DrfStepUpAll.as_view()),
]
