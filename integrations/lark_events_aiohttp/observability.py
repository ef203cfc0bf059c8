"""Optional Prometheus metrics and health routes for :func:`lark_events_aiohttp.setup`."""

from __future__ import annotations

from aiohttp import web

from lark_events_core import Dispatcher

__all__ = ["add_routes"]


def add_routes(
    app: web.Application,
    dispatcher: Dispatcher,
    *,
    metrics_path: str | None = None,
    health_path: str | None = None,
) -> None:
    """Serve the metrics at ``metrics_path`` and the health at ``health_path`` (``None``: not)."""
    if metrics_path is not None:
        from lark_events_core.metrics import instrument, metrics_body

        observer = instrument(dispatcher)

        async def lark_events_metrics(request: web.Request) -> web.Response:
            body, content_type = metrics_body(observer.registry)
            return web.Response(body=body, headers={"Content-Type": content_type})

        app.router.add_get(metrics_path, lark_events_metrics, name="lark_events_metrics")
    if health_path is not None:

        async def lark_events_health(request: web.Request) -> web.Response:
            health = await dispatcher.ahealth()
            return web.Response(
                status=health.status, body=health.body(), content_type="application/json"
            )

        app.router.add_get(health_path, lark_events_health, name="lark_events_health")
