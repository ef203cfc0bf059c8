"""Django: the metrics and health views, through Django's real test client."""

from __future__ import annotations

import json

import pytest
from django.test import Client
from django.test.utils import override_settings

from lark_events_core.testing import make_event, sign_event
from tests.support.vectors import receiver

from .client import post
from .conftest import lark_settings

pytest.importorskip("prometheus_client", reason="the metrics extra is not installed")


def _accepted(text: str) -> float:
    for line in text.splitlines():
        if line.startswith('lark_events_requests_total{outcome="accepted"}'):
            return float(line.split()[-1])
    return 0.0


def test_metrics_count_what_the_event_view_handled() -> None:
    from lark_events_django import reset

    with override_settings(LARK_EVENTS=lark_settings(METRICS=True, HEALTH=True)):
        reset()
        before = _accepted(Client().get("/ops/metrics").content.decode())
        rec = receiver()
        for i in range(3):
            event = make_event(
                "im.message.receive_v1",
                {"message": {"message_id": f"om_dj_{i}"}},
                token=rec["verification_token"],
                event_id=f"ev-dj-metrics-{i}",
            )
            req = sign_event(event, encrypt_key=rec["encrypt_key"])
            assert post("/webhook/event", req.body, req.headers).status_code == 200
        response = Client().get("/ops/metrics")
        assert response.status_code == 200
        assert response["Content-Type"].startswith("text/plain")
        assert _accepted(response.content.decode()) == before + 3
        health = Client().get("/ops/health")
        assert health.status_code == 200
        assert json.loads(health.content)["ready"] is True
        assert Client().post("/ops/health").status_code == 405
    reset()
