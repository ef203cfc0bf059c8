"""The /metrics and health routes of the Flask extension and aiohttp's setup(), through each
framework's real test client."""

from __future__ import annotations

import asyncio
import json

import pytest

pytest.importorskip("prometheus_client", reason="the metrics extra is not installed")

from .mix import KEY, TOKEN, event_request


def _accepted(text: str) -> float:
    for line in text.splitlines():
        if line.startswith('lark_events_requests_total{outcome="accepted"}'):
            return float(line.split()[-1])
    return 0.0


def test_flask_metrics_and_health_routes() -> None:
    pytest.importorskip("flask")
    from flask import Flask
    from lark_events_flask import LarkEvents

    lark = LarkEvents()
    lark.on("im.message.receive_v1")(lambda event: None)
    app = Flask(__name__)
    app.config.update(
        LARK_ENCRYPT_KEY=KEY,
        LARK_VERIFICATION_TOKEN=TOKEN,
        LARK_EVENTS_METRICS=True,
        LARK_EVENTS_HEALTH="/ops/health",
    )
    lark.init_app(app)
    client = app.test_client()
    before = _accepted(client.get("/metrics").get_data(as_text=True))
    for i in range(2):
        req = event_request("im.message.receive_v1", f"ev-flask-metrics-{i}")
        assert (
            client.post("/webhook/event", data=req.body, headers=dict(req.headers)).status_code
            == 200
        )
    metrics = client.get("/metrics")
    assert metrics.status_code == 200
    assert metrics.content_type.startswith("text/plain")
    assert _accepted(metrics.get_data(as_text=True)) == before + 2
    health = client.get("/ops/health")
    assert health.status_code == 200
    assert json.loads(health.get_data())["ready"] is True


def test_flask_routes_are_off_by_default() -> None:
    pytest.importorskip("flask")
    from flask import Flask
    from lark_events_flask import LarkEvents

    app = Flask(__name__)
    app.config.update(LARK_ENCRYPT_KEY=KEY, LARK_VERIFICATION_TOKEN=TOKEN)
    LarkEvents(app)
    assert app.test_client().get("/metrics").status_code == 404
    assert app.extensions["lark_events"].dispatcher.observer is None


def test_aiohttp_metrics_and_health_routes() -> None:
    pytest.importorskip("aiohttp")
    from aiohttp import web
    from aiohttp.test_utils import TestClient, TestServer
    from lark_events_aiohttp import setup

    from lark_events_core import Dispatcher

    async def main() -> None:
        app = web.Application()
        dispatcher = Dispatcher(KEY, TOKEN)
        dispatcher.on("im.message.receive_v1", lambda event: None)
        setup(app, dispatcher, metrics_path="/metrics", health_path="/healthz")
        async with TestClient(TestServer(app)) as client:
            before = _accepted(await (await client.get("/metrics")).text())
            req = event_request("im.message.receive_v1", "ev-aiohttp-metrics")
            resp = await client.post("/webhook/event", data=req.body, headers=dict(req.headers))
            assert resp.status == 200
            metrics = await client.get("/metrics")
            assert metrics.status == 200
            assert _accepted(await metrics.text()) == before + 1
            health = await client.get("/healthz")
            assert health.status == 200
            assert (await health.json())["ready"] is True

    asyncio.run(main())
