"""TracingObserver: a span per event, child spans per handler attempt; no bodies or secrets."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("opentelemetry.sdk", reason="the OpenTelemetry SDK is not installed")

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from lark_events_core import Dispatcher
from lark_events_core.tracing import TracingObserver

from .mix import KEY, TOKEN, register, requests_of_the_mix


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


def _dispatcher(exporter: InMemorySpanExporter) -> Dispatcher:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    dispatcher = Dispatcher(KEY, TOKEN, observers=[TracingObserver(provider)])
    register(dispatcher)
    return dispatcher


def test_one_span_per_event_with_handler_children(exporter: InMemorySpanExporter) -> None:
    dispatcher = _dispatcher(exporter)
    for request in requests_of_the_mix():
        dispatcher.handle(request)
    dispatcher.close(5)
    spans = exporter.get_finished_spans()
    events = [s for s in spans if s.name.startswith("lark.event ")]
    handlers = [s for s in spans if s.name.startswith("lark.handler ")]
    rejected = [s for s in spans if s.name == "lark.request rejected"]
    # 3 ok + 2 duplicates + 1 deferred + 1 failing (the unknown type has no handler: no span)
    assert len(events) == 7
    assert len(handlers) == 5
    assert len(rejected) == 2
    by_id = {s.context.span_id: s for s in events}
    for handler in handlers:
        assert handler.parent is not None
        assert handler.parent.span_id in by_id
        assert handler.parent.trace_id == by_id[handler.parent.span_id].context.trace_id
    outcomes = sorted(str(s.attributes["lark.outcome"]) for s in events if s.attributes)
    assert outcomes == sorted(["accepted"] * 3 + ["duplicate"] * 2 + ["done", "handler_error"])
    failed = [s for s in events if s.attributes and s.attributes["lark.outcome"] == "handler_error"]
    assert failed[0].status.status_code is StatusCode.ERROR
    deferred = [
        s for s in handlers if s.attributes and s.attributes["lark.handler.mode"] == "deferred"
    ]
    assert len(deferred) == 1
    dup = [s for s in events if s.attributes and s.attributes["lark.dedup.duplicate"]]
    assert len(dup) == 2


def test_spans_carry_no_body_key_or_token(exporter: InMemorySpanExporter) -> None:
    dispatcher = _dispatcher(exporter)
    for request in requests_of_the_mix():
        dispatcher.handle(request)
    dispatcher.close(5)
    dumped = json.dumps([s.to_json() for s in exporter.get_finished_spans()])
    assert KEY not in dumped
    assert TOKEN not in dumped
    assert '"x": 1' not in dumped
    assert "encrypt" not in dumped
