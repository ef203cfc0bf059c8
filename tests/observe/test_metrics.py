"""PrometheusObserver: each counter equals what was sent; labels stay bounded."""

from __future__ import annotations

from typing import Any

import pytest

pytest.importorskip("prometheus_client", reason="the metrics extra is not installed")

from prometheus_client import CollectorRegistry, generate_latest

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


def _feed(observer: PrometheusObserver) -> None:
    """Every hook, with fixed times: bucket bounds exactly, between them, past the last one."""
    message = "im.message.receive_v1"
    event = make_event_obj(message)
    for seconds in (0.0004, 0.005, 0.0051, 0.3, 31.0):
        observer.handler_finished(event, seconds, None, deferred=False, token=None)
        observer.answered(message, "accepted", 200, seconds)
    observer.handler_finished(event, 0.002, RuntimeError("x"), deferred=True, token=None)
    observer.answered(message, "handler_error", 500, 0.002)
    observer.answered(message, "duplicate", 200, 0.0)
    observer.answered(None, "url_verification", 200, 0.0)
    observer.request_rejected("signature_mismatch", 401)
    observer.event_finished(event, "done", None)
    observer.background_changed(1, 0)
    observer.background_changed(-1, 1)
    observer.store_error("claim")
    observer.connection_changed(True)
    observer.ack_sent(200)


def make_event_obj(event_type: str) -> Any:
    """An :class:`Event` of ``event_type``, as the dispatcher hands the observer."""
    dispatcher = Dispatcher(KEY, TOKEN)
    seen: list[Any] = []
    dispatcher.on(event_type, seen.append)
    dispatcher.handle(event_request(event_type, "ev-metrics-feed"))
    return seen[0]


def _exposition(registry: CollectorRegistry) -> str:
    """The registry's text, with the ``_created`` timestamps (and the changing last-frame time)
    left out: every other name, label and value must match."""
    lines = []
    for line in generate_latest(registry).decode().splitlines():
        name = line.split("{")[0].split(" ")[0]
        if name.endswith("_created") and not line.startswith("#"):
            line = line.rpartition(" ")[0] + " <created>"
        lines.append(line)
    return "\n".join(lines)


def test_single_process_values_read_exactly_as_prometheus_clients_own_objects(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # In one process the observer keeps plain numbers behind a collector; what the registry
    # shows must be what prometheus_client's Counter/Histogram/Gauge (multiprocess mode's
    # objects, here with in-process values) show for the same reports.
    ours = CollectorRegistry()
    local = PrometheusObserver(ours)
    with monkeypatch.context() as patched:
        patched.setenv("PROMETHEUS_MULTIPROC_DIR", "/nonexistent-lark-test")
        theirs = CollectorRegistry()
        client = PrometheusObserver(theirs)
    assert type(local.metrics) is not type(client.metrics)
    _feed(local)
    _feed(client)
    assert _exposition(ours) == _exposition(theirs)
    text = _exposition(ours)
    assert 'lark_events_handler_seconds_bucket{le="0.005",mode="inline"' in text
    assert _value(ours, "lark_events_answer_seconds_bucket", outcome="accepted", le="0.005") == 2
    assert _value(ours, "lark_events_answer_seconds_bucket", outcome="accepted", le="30.0") == 4
    assert _value(ours, "lark_events_answer_seconds_bucket", outcome="accepted", le="+Inf") == 5
    assert _value(ours, "lark_events_answer_seconds_sum", outcome="accepted") == pytest.approx(
        0.0004 + 0.005 + 0.0051 + 0.3 + 31.0
    )
    assert _value(ours, "lark_events_background_jobs", state="running") == 1
    assert _value(ours, "lark_events_longconn_connects_total") == 1
    assert _value(ours, "lark_events_longconn_connects_created") > 0


def test_created_samples_follow_prometheus_clients_switch() -> None:
    import prometheus_client

    registry = CollectorRegistry()
    _feed(PrometheusObserver(registry))
    assert "_created" in generate_latest(registry).decode()
    prometheus_client.disable_created_metrics()  # type: ignore[no-untyped-call]
    try:
        assert "_created" not in generate_latest(registry).decode()
    finally:
        prometheus_client.enable_created_metrics()  # type: ignore[no-untyped-call]


def test_the_registry_still_refuses_a_metric_of_the_same_name() -> None:
    from prometheus_client import Counter

    registry = CollectorRegistry()
    PrometheusObserver(registry)
    with pytest.raises(ValueError, match="Duplicated timeseries"):
        Counter("lark_events_requests", "someone else's", registry=registry)


def test_counts_from_many_threads_add_up() -> None:
    # Handler threads report at once: no increment may be lost, neither while the threads race
    # to make the value of a label seen for the first time (every thread reports each new type
    # at the same moment) nor once it exists. A switch interval of a microsecond makes the
    # interpreter change threads as often as it can.
    import sys
    import threading

    registry = CollectorRegistry()
    observer = PrometheusObserver(registry)
    event = make_event_obj("im.message.receive_v1")
    threads, types, rounds = 8, 50, 1000
    together = threading.Barrier(threads)

    def report() -> None:
        for i in range(types):
            together.wait()
            observer.answered(f"custom.type_{i}", f"outcome_{i}", 200, 0.002)
        for _ in range(rounds):
            observer.answered("im.message.receive_v1", "accepted", 200, 0.002)
            observer.handler_finished(event, 0.002, None, deferred=False, token=None)
            observer.request_rejected("signature_mismatch", 401)

    previous = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        workers = [threading.Thread(target=report) for _ in range(threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
    finally:
        sys.setswitchinterval(previous)
    for i in range(types):
        assert _value(registry, "lark_events_events_total", type=f"custom.type_{i}") == threads
        assert _value(registry, "lark_events_requests_total", outcome=f"outcome_{i}") == threads
    total = threads * rounds
    assert _value(registry, "lark_events_requests_total", outcome="accepted") == total
    assert _value(registry, "lark_events_requests_total", outcome="rejected") == total
    assert _value(registry, "lark_events_events_total", type="im.message.receive_v1") == total
    assert _value(registry, "lark_events_answer_seconds_count", outcome="accepted") == total
    assert _value(registry, "lark_events_answer_seconds_sum", outcome="accepted") == (
        pytest.approx(total * 0.002)
    )
    inline = {"type": "im.message.receive_v1", "mode": "inline"}
    assert _value(registry, "lark_events_handler_seconds_count", **inline) == total
