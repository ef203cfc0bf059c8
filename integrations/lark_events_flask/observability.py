"""Optional ``/metrics`` and health routes for the Flask extension.

``LARK_EVENTS_METRICS = True`` (or a path) adds a Prometheus observer to the dispatcher and serves
its metrics at ``/metrics``; ``LARK_EVENTS_HEALTH = True`` (or a path) serves
:meth:`Dispatcher.health` at ``/healthz`` (200 when ready, 503 when not).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask
from flask import Response as FlaskResponse

from lark_events_core import Dispatcher
from lark_events_core.http import JSON_CONTENT_TYPE

__all__ = ["add_routes"]


def _path(value: Any, default: str) -> str | None:
    if not value:
        return None
    return default if value is True else str(value)


def add_routes(app: Flask, dispatcher: Dispatcher, config: Mapping[str, Any]) -> None:
    """Add the routes that ``config`` turns on (nothing by default)."""
    metrics_path = _path(config.get("LARK_EVENTS_METRICS"), "/metrics")
    if metrics_path is not None:
        from lark_events_core.metrics import instrument, metrics_body

        observer = instrument(dispatcher)

        def lark_events_metrics() -> FlaskResponse:
            body, content_type = metrics_body(observer.registry)
            return app.response_class(body, status=200, content_type=content_type)

        app.add_url_rule(metrics_path, "lark_events_metrics", lark_events_metrics)
    health_path = _path(config.get("LARK_EVENTS_HEALTH"), "/healthz")
    if health_path is not None:

        def lark_events_health() -> FlaskResponse:
            health = dispatcher.health()
            return app.response_class(
                health.body(), status=health.status, content_type=JSON_CONTENT_TYPE
            )

        app.add_url_rule(health_path, "lark_events_health", lark_events_health)
