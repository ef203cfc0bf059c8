"""The urls of :mod:`tests.observe.served_django`: events, metrics and health under webhook/."""

from __future__ import annotations

from django.urls import include, path

urlpatterns = [path("webhook/", include("lark_events_django.urls"))]
