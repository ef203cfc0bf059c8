"""TracingObserver: a span per event, child spans per handler attempt; no bodies or secrets."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import pytest

pytest.importorskip("opentelemetry.sdk", reason="the OpenTelemetry SDK is not installed")

from opentelemetry.context import Context
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import Decision, Sampler, SamplingResult
from opentelemetry.trace import Link, NoOpTracerProvider, SpanKind, StatusCode, TraceState
from opentelemetry.util.types import Attributes

from lark_events_core import Dispatcher
from lark_events_core.tracing import TracingObserver

from .mix import KEY, TOKEN, event_request, register, requests_of_the_mix


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


def _dispatcher(exporter: InMemorySpanExporter, sampler: Sampler | None = None) -> Dispatcher:
    provider = TracerProvider(sampler=sampler)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    dispatcher = Dispatcher(KEY, TOKEN, observers=[TracingObserver(provider)])
    register(dispatcher)
    return dispatcher


def _spans_of_the_mix(dispatcher: Dispatcher, exporter: InMemorySpanExporter) -> list[Any]:
    """Every span finished once the known mix is handled, and its background work is done."""
    for request in requests_of_the_mix():
        dispatcher.handle(request)
    dispatcher.close(5)
    return list(exporter.get_finished_spans())


def test_one_span_per_event_with_handler_children(exporter: InMemorySpanExporter) -> None:
    spans = _spans_of_the_mix(_dispatcher(exporter), exporter)
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
    spans = _spans_of_the_mix(_dispatcher(exporter), exporter)
    dumped = json.dumps([s.to_json() for s in spans])
    assert KEY not in dumped
    assert TOKEN not in dumped
    assert '"x": 1' not in dumped
    assert "encrypt" not in dumped


class _DropMessages(Sampler):
    """Drops the spans of ``im.message.receive_v1`` events, deciding on the start attributes."""

    def should_sample(
        self,
        parent_context: Context | None,
        trace_id: int,
        name: str,
        kind: SpanKind | None = None,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        trace_state: TraceState | None = None,
    ) -> SamplingResult:
        if attributes and attributes.get("lark.event.type") == "im.message.receive_v1":
            return SamplingResult(Decision.DROP)
        return SamplingResult(Decision.RECORD_AND_SAMPLE, attributes)

    def get_description(self) -> str:
        return "DropMessages"


def test_attributes_are_given_at_the_start_and_an_unrecorded_event_gets_no_child_span(
    exporter: InMemorySpanExporter,
) -> None:
    spans = _spans_of_the_mix(_dispatcher(exporter, _DropMessages()), exporter)
    events = [s for s in spans if s.name.startswith("lark.event ")]
    handlers = [s for s in spans if s.name.startswith("lark.handler ")]
    # The sampler saw the event type at the start: the 5 message spans (3 + 2 duplicates) are
    # dropped, and so are their handler spans, which are never started.
    assert sorted(s.name for s in events) == [
        "lark.event app_ticket",
        "lark.event contact.user.created_v3",
    ]
    assert sorted(s.name for s in handlers) == [
        "lark.handler app_ticket",
        "lark.handler contact.user.created_v3",
    ]
    failing = next(s for s in events if s.name == "lark.event contact.user.created_v3")
    assert dict(failing.attributes or {}) == {
        "lark.event.type": "contact.user.created_v3",
        "lark.event.kind": "event_v2",
        "lark.event.id": "ev-fail",
        "lark.tenant_key": "tenant_test",
        "lark.outcome": "handler_error",
        "lark.dedup.duplicate": False,
    }
    failed_handler = next(s for s in handlers if s.name == "lark.handler contact.user.created_v3")
    assert failed_handler.status.status_code is StatusCode.ERROR
    assert [e.name for e in failed_handler.events] == ["exception"]
    rejected = [s for s in spans if s.name == "lark.request rejected"]
    assert len(rejected) == 2
    assert dict(rejected[0].attributes or {}) == {
        "lark.reject_reason": "signature_mismatch",
        "http.response.status_code": 401,
    }
    assert rejected[0].status.status_code is StatusCode.ERROR


def test_the_api_no_op_tracer_records_nothing_and_changes_no_answer() -> None:
    traced = Dispatcher(KEY, TOKEN, observers=[TracingObserver(NoOpTracerProvider())])
    plain = Dispatcher(KEY, TOKEN)
    register(traced)
    register(plain)
    statuses = [traced.handle(request).status for request in requests_of_the_mix()]
    assert statuses == [plain.handle(request).status for request in requests_of_the_mix()]
    traced.close(5)
    plain.close(5)


def _message_event(event_id: str) -> Any:
    seen: list[Any] = []
    dispatcher = Dispatcher(KEY, TOKEN)
    dispatcher.on("im.message.receive_v1", seen.append)
    dispatcher.handle(event_request("im.message.receive_v1", event_id))
    return seen[0]


def test_with_no_provider_yet_nothing_is_made_then_spans_once_one_is_set(
    monkeypatch: pytest.MonkeyPatch, exporter: InMemorySpanExporter
) -> None:
    # Only the API (no global provider): not even the API's no-op span is made for an event.
    # A provider set later (set_tracer_provider, here its module variable, as the API's own
    # tests reset it) is picked up by the same observer.
    from opentelemetry import trace

    monkeypatch.setattr(trace, "_TRACER_PROVIDER", None)
    observer = TracingObserver()
    assert isinstance(observer.tracer, trace.ProxyTracer)
    dispatcher = Dispatcher(KEY, TOKEN, observers=[observer])
    register(dispatcher)
    assert observer.event_received(_message_event("ev-proxy-0")) is None
    assert dispatcher.handle(event_request("im.message.receive_v1", "ev-proxy-1")).status == 200
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    monkeypatch.setattr(trace, "_TRACER_PROVIDER", provider)
    assert dispatcher.handle(event_request("im.message.receive_v1", "ev-proxy-2")).status == 200
    names = sorted(s.name for s in exporter.get_finished_spans())
    assert names == ["lark.event im.message.receive_v1", "lark.handler im.message.receive_v1"]
    (event,) = [s for s in exporter.get_finished_spans() if s.name.startswith("lark.event")]
    assert event.attributes is not None
    assert event.attributes["lark.event.id"] == "ev-proxy-2"


def test_a_no_op_provider_makes_no_span_and_passes_the_callers_context_on() -> None:
    # With nothing recording, a Celery task still carries the incoming trace context (what the
    # API's no-op span would have carried), so the worker's own calls join the caller's trace.
    from opentelemetry import context, propagate

    observer = TracingObserver(NoOpTracerProvider())
    event = _message_event("ev-noop-carrier")
    incoming = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    attached = context.attach(propagate.extract({"traceparent": incoming}))
    try:
        token = observer.event_received(event)
        assert token is None
        assert observer.handler_started(event, deferred=True, token=token) is None
        assert observer.carrier(token)["traceparent"] == incoming
    finally:
        context.detach(attached)
    assert "traceparent" not in observer.carrier(None)
