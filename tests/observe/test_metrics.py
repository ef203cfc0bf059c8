"""PrometheusObserver: each counter equals what was sent; labels stay bounded."""

from __future__ import annotations

import pytest

pytest.importorskip("prometheus_client", reason="the metrics extra is not installed")

from prometheus_client import CollectorRegistry

from lark_events_core import Dispatcher
from lark_events_core.metrics import PrometheusObserver, instrument, metrics_body

from .mix import EXPECTED_OUTCOMES, KEY, TOKEN, event_request, register, requests_of_the_mix


def _value(registry: CollectorRegistry, name: str, **labels: str) -> float:
    value = registry.get_sample_value(name, labels)
    return 0.0 if value is None else value


def _wait_background(dispatcher: Dispatcher) -> None:
    dispatcher.close(5)


def test_counters_equal_the_known_mix() -> None:
    registry = CollectorRegistry()
    dispatcher = Dispatcher(KEY, TOKEN, observers=[PrometheusObserver(registry)])
    register(dispatcher)
    for request in requests_of_the_mix():
        dispatcher.handle(request)
    _wait_background(dispatcher)
    for outcome, count in EXPECTED_OUTCOMES.items():
        assert _value(registry, "lark_events_requests_total", outcome=outcome) == count, outcome
    assert _value(registry, "lark_events_rejections_total", reason="signature_mismatch") == 2
    assert _value(registry, "lark_events_events_total", type="im.message.receive_v1") == 5
    assert _value(registry, "lark_events_events_total", type="vc.unknown.type_v9") == 1
    inline = {"type": "im.message.receive_v1", "mode": "inline"}
    assert _value(registry, "lark_events_handler_seconds_count", **inline) == 3
    failing = {"type": "contact.user.created_v3", "mode": "inline"}
    assert _value(registry, "lark_events_handler_errors_total", **failing) == 1
    deferred = {"type": "app_ticket", "mode": "deferred"}
    assert _value(registry, "lark_events_handler_seconds_count", **deferred) == 1
    assert _value(registry, "lark_events_background_jobs_finished_total", result="done") == 1
    assert _value(registry, "lark_events_background_jobs", state="queued") == 0
    assert _value(registry, "lark_events_background_jobs", state="running") == 0
    assert _value(registry, "lark_events_answer_seconds_count", outcome="accepted") == 4


def test_event_type_labels_are_capped_in_number_and_shape() -> None:
    registry = CollectorRegistry()
    dispatcher = Dispatcher(KEY, TOKEN, observers=[PrometheusObserver(registry, max_event_types=3)])
    types = [f"custom.type_{i}" for i in range(6)] + ["x" * 500, "bad\ntype"]
    for i, event_type in enumerate(types):
        dispatcher.handle(event_request(event_type, f"ev-cap-{i}"))
    body, _ = metrics_body(registry)
    text = body.decode()
    assert text.count('lark_events_events_total{type="custom.type_') == 3
    assert _value(registry, "lark_events_events_total", type="other") == 5
    assert "x" * 200 not in text
    assert "bad\\ntype" not in text


def test_no_ids_in_labels() -> None:
    registry = CollectorRegistry()
    dispatcher = Dispatcher(KEY, TOKEN, observers=[PrometheusObserver(registry)])
    register(dispatcher)
    for request in requests_of_the_mix():
        dispatcher.handle(request)
    dispatcher.close(5)
    text = metrics_body(registry)[0].decode()
    assert "ev-ok" not in text
    assert "ev-" not in text
    assert KEY not in text
    assert TOKEN not in text


def test_instrument_is_idempotent_and_observers_share_a_registry() -> None:
    registry = CollectorRegistry()
    first = Dispatcher(KEY, TOKEN)
    second = Dispatcher(KEY, TOKEN)
    a = instrument(first, registry)
    assert instrument(first, registry) is a
    b = instrument(second, registry)  # a registry refuses duplicate metrics: they are shared
    assert a.metrics is b.metrics
    register(first)
    register(second)
    first.handle(event_request("im.message.receive_v1", "ev-s1"))
    second.handle(event_request("im.message.receive_v1", "ev-s2"))
    assert _value(registry, "lark_events_requests_total", outcome="accepted") == 2


def test_long_connection_metrics() -> None:
    registry = CollectorRegistry()
    observer = PrometheusObserver(registry)
    observer.connection_changed(True)
    observer.frame_received()
    observer.ack_sent(200)
    observer.ack_sent(500)
    assert _value(registry, "lark_events_longconn_connected") == 1
    assert _value(registry, "lark_events_longconn_connects_total") == 1
    assert _value(registry, "lark_events_longconn_last_frame_timestamp_seconds") > 0
    assert _value(registry, "lark_events_longconn_acks_total", code="500") == 1
    observer.connection_changed(False)
    assert _value(registry, "lark_events_longconn_connected") == 0


def test_capped_types_keep_counting_as_other_on_every_event() -> None:
    # Children are cached per admitted type; a type over the cap is not cached (the cache stays
    # bounded) and must still count as ``other`` each time, inline and deferred.
    registry = CollectorRegistry()
    dispatcher = Dispatcher(KEY, TOKEN, observers=[PrometheusObserver(registry, max_event_types=1)])
    dispatcher.on("custom.first_v1", lambda event: None)
    dispatcher.on("custom.second_v1", lambda event: None)
    dispatcher.on("custom.third_v1", lambda event: None, deferred=True)
    for i in range(3):
        for event_type in ("custom.first_v1", "custom.second_v1", "custom.third_v1"):
            dispatcher.handle(event_request(event_type, f"ev-cap2-{event_type}-{i}"))
    dispatcher.close(5)
    first = {"type": "custom.first_v1", "mode": "inline"}
    assert _value(registry, "lark_events_handler_seconds_count", **first) == 3
    other = {"type": "other", "mode": "inline"}
    assert _value(registry, "lark_events_handler_seconds_count", **other) == 3
    other_deferred = {"type": "other", "mode": "deferred"}
    assert _value(registry, "lark_events_handler_seconds_count", **other_deferred) == 3
    assert _value(registry, "lark_events_events_total", type="custom.first_v1") == 3
    assert _value(registry, "lark_events_events_total", type="other") == 6
    assert _value(registry, "lark_events_answer_seconds_count", outcome="accepted") == 9
