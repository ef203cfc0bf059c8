"""URLs to ``include()``: ``path("webhook/", include("lark_events_django.urls"))`` serves
``webhook/event`` (events and new-style callbacks) and ``webhook/card`` (legacy card callbacks).

The views are async under ASGI and sync under WSGI (see
:func:`~lark_events_django.views.use_async_views`; ``LARK_EVENTS["ASYNC"]`` decides when set).
URL names: ``lark_events:event`` and ``lark_events:card``. With ``LARK_EVENTS["METRICS"]`` and
``LARK_EVENTS["HEALTH"]``, also ``metrics`` (Prometheus) and ``health`` (``lark_events:metrics``,
``lark_events:health``); :mod:`lark_events_django.observability` has the views to route
elsewhere.
"""

from __future__ import annotations

from django.urls import path

from .conf import lark_settings, warn_if_not_installed
from .views import make_async_view, make_sync_view, use_async_views

app_name = "lark_events"
warn_if_not_installed()

if use_async_views():
    urlpatterns = [
        path("event", make_async_view(), name="event"),
        path("card", make_async_view(card=True), name="card"),
    ]
else:
    urlpatterns = [
        path("event", make_sync_view(), name="event"),
        path("card", make_sync_view(card=True), name="card"),
    ]

if lark_settings().get("METRICS"):
    from .observability import metrics_view

    urlpatterns.append(path("metrics", metrics_view, name="metrics"))
if lark_settings().get("HEALTH"):
    from .observability import health_view

    urlpatterns.append(path("health", health_view, name="health"))
