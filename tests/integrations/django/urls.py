"""The test project's URLs: every way a user can mount the views."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import include, path
from lark_events_django import (
    async_lark_card_view,
    async_lark_event_view,
    lark_card_view,
    lark_event_view,
)
from lark_events_django.observability import health_view, metrics_view

from . import dbviews


def protected(request: HttpRequest) -> HttpResponse:
    """An ordinary view: proves LoginRequiredMiddleware (Django 5.1+) is active."""
    return JsonResponse({"ok": True})


urlpatterns = [
    path("sync/event", lark_event_view),
    path("sync/card", lark_card_view),
    path("async/event", async_lark_event_view),
    path("async/card", async_lark_card_view),
    path("webhook/", include("lark_events_django.urls")),
    path("protected", protected),
    path("ops/metrics", metrics_view),
    path("ops/health", health_view),
    *(path(f"db/{name}", view) for name, view in dbviews.views.items()),
]
