"""Views for Prometheus metrics and the dispatcher's health.

``LARK_EVENTS["METRICS"] = True`` makes the dispatcher report to Prometheus and the included
urls serve ``metrics``; ``LARK_EVENTS["HEALTH"] = True`` serves ``health`` (200 when ready,
503 when not). Route these views yourself to place them elsewhere (``path("metrics",
metrics_view)`` at the site root). Both are plain sync views: they work under WSGI and ASGI.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_safe

from lark_events_core.http import JSON_CONTENT_TYPE

from .conf import get_dispatcher

__all__ = ["health_view", "metrics_view"]


@require_safe
def metrics_view(request: HttpRequest) -> HttpResponse:
    """The Prometheus exposition of the default registry (every worker's, in multiprocess mode)."""
    from lark_events_core.metrics import instrument, metrics_body

    observer = instrument(get_dispatcher())
    body, content_type = metrics_body(observer.registry)
    return HttpResponse(body, content_type=content_type)


@require_safe
def health_view(request: HttpRequest) -> HttpResponse:
    """:meth:`Dispatcher.health` as JSON: 200 when ready, 503 when not."""
    health = get_dispatcher().health()
    return HttpResponse(health.body(), status=health.status, content_type=JSON_CONTENT_TYPE)


# Probes and scrapers cannot log in (Django 5.1+ LoginRequiredMiddleware reads this marker).
for _view in (metrics_view, health_view):
    _view.__dict__.update(login_required=False)
