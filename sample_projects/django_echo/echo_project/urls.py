"""``/webhook/event`` (events and callbacks) and ``/webhook/card`` (legacy card callbacks)."""

from __future__ import annotations

from django.urls import include, path

urlpatterns = [
    path("webhook/", include("lark_events_django.urls")),
]
