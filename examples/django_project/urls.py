"""The example's URLs."""

from __future__ import annotations

from django.urls import path

from . import views

urlpatterns = [
    path("health", views.health),
    path("whoami", views.whoami),
    path("items", views.items),
    path("approve", views.approve),
    path("api/items", views.Items.as_view()),
]
