"""A sampled-out event records nothing (no event, attempt or worker span) but keeps its trace:
its unrecorded span is current while the handler runs, so the handler's own spans share its
trace id and its sampled-out flag, and the traceparent sent to Celery carries flag ``00``."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

pytest.importorskip("opentelemetry.sdk", reason="the OpenTelemetry SDK is not installed")

from opentelemetry import context, propagate, trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ParentBased

from lark_events_core import Dispatcher, Event
from lark_events_core.tracing import TracingObserver

from .mix import CASES, KEY, MESSAGE, TOKEN, dispatcher_for_mode, event_request, handle_and_drain

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_ID = "00f067aa0ba902b7"


class _Kept(TracingObserver):
    """A TracingObserver keeping each event's span (recorded or not), to read its context."""

    def __init__(self, provider: TracerProvider) -> None:
        super().__init__(provider)
        self.events: list[trace.Span] = []

    def event_received(self, event: Event[Any]) -> object:
        span = super().event_received(event)
        assert isinstance(span, trace.Span)
        self.events.append(span)
        return span


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


def _provider(exporter: InMemorySpanExporter, *, sampled_out: bool = False) -> TracerProvider:
    provider = TracerProvider(sampler=ParentBased(ALWAYS_OFF) if sampled_out else None)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider


def _user_handler(
    provider: TracerProvider, seen: list[trace.SpanContext], is_async: bool = False
) -> Callable[[Event[Any]], Any]:
    """A handler making a span of its own (as a database client would), kept in ``seen``."""

    def user_span() -> None:
        with provider.get_tracer("user").start_as_current_span("user db") as span:
            seen.append(span.get_span_context())

    if is_async:

        async def async_handler(event: Event[Any]) -> None:
            await asyncio.sleep(0)
            user_span()

        return async_handler
    return lambda event: user_span()


@contextmanager
def _incoming(flags: str) -> Iterator[None]:
    """A request's W3C ``traceparent`` made current, as a framework's middleware does."""
    carrier = {"traceparent": f"00-{TRACE_ID}-{PARENT_ID}-{flags}"}
    attached = context.attach(propagate.extract(carrier))
    try:
        yield
    finally:
        context.detach(attached)


@pytest.mark.parametrize(("caller", "handler", "mode"), CASES)
def test_a_sampled_out_events_handler_spans_keep_its_trace_and_nothing_is_recorded(
    exporter: InMemorySpanExporter, caller: str, handler: str, mode: str
) -> None:
    provider = _provider(exporter, sampled_out=True)
    observer = _Kept(provider)
    dispatcher, event_type = dispatcher_for_mode(mode, observer)
    seen: list[trace.SpanContext] = []
    fn = _user_handler(provider, seen, handler == "async")
    dispatcher.on(event_type, fn, deferred=mode == "deferred")

    def nothing_current() -> None:  # the event's span was current only around the attempt
        assert trace.get_current_span() is trace.INVALID_SPAN

    request = event_request(event_type, f"ev-out-{caller}-{handler}-{mode}")
    assert handle_and_drain(dispatcher, request, caller, nothing_current) == 200
    assert list(exporter.get_finished_spans()) == []  # no event, attempt or user span
    (event,) = observer.events
    assert not event.is_recording()
    (user,) = seen
    assert user.trace_id == event.get_span_context().trace_id  # not a new root
    assert not user.trace_flags.sampled


@pytest.mark.parametrize("caller", ["sync", "async"])
def test_each_retried_attempt_of_a_sampled_out_event_stays_in_its_trace_unrecorded(
    exporter: InMemorySpanExporter, caller: str
) -> None:
    provider = _provider(exporter, sampled_out=True)
    observer = _Kept(provider)
    dispatcher = Dispatcher(KEY, TOKEN, retries=2, retry_backoff=0, observers=[observer])
    seen: list[trace.SpanContext] = []
    user = _user_handler(provider, seen)

    def flaky(event: Event[Any]) -> None:
        user(event)
        if len(seen) < 3:
            raise RuntimeError(f"attempt {len(seen)} fails")

    dispatcher.on(MESSAGE, flaky, deferred=True)
    assert handle_and_drain(dispatcher, event_request(MESSAGE, f"ev-out-{caller}"), caller) == 200
    assert list(exporter.get_finished_spans()) == []
    (event,) = observer.events
    assert {(s.trace_id, s.trace_flags.sampled) for s in seen} == {
        (event.get_span_context().trace_id, False)
    }
    assert len(seen) == 3


@pytest.mark.parametrize("flags", ["00", "01"])
def test_the_incoming_sampled_flag_decides_and_the_trace_id_is_kept(
    exporter: InMemorySpanExporter, flags: str
) -> None:
    provider = _provider(exporter)  # the SDK's default sampler: ParentBased(ALWAYS_ON)
    dispatcher = Dispatcher(KEY, TOKEN, observers=[TracingObserver(provider)])
    seen: list[trace.SpanContext] = []
    dispatcher.on(MESSAGE, _user_handler(provider, seen))
    with _incoming(flags):
        assert dispatcher.handle(event_request(MESSAGE, f"ev-in-{flags}")).status == 200
    spans = list(exporter.get_finished_spans())
    (user,) = seen
    assert f"{user.trace_id:032x}" == TRACE_ID
    if flags == "00":
        assert spans == []
        assert not user.trace_flags.sampled
        return
    event, attempt = (next(s for s in spans if s.name.startswith(p)) for p in ("lark.e", "lark.h"))
    (mine,) = (s for s in spans if s.name == "user db")
    assert len(spans) == 3
    assert event.parent is not None
    assert f"{event.parent.span_id:016x}" == PARENT_ID
    assert attempt.parent is not None
    assert attempt.parent.span_id == event.context.span_id
    assert mine.parent is not None
    assert mine.parent.span_id == attempt.context.span_id
    assert {f"{s.context.trace_id:032x}" for s in spans} == {TRACE_ID}


def test_a_sampled_out_event_sends_flag_00_to_celery_and_the_worker_records_nothing(
    exporter: InMemorySpanExporter, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("celery", reason="the celery extra is not installed")
    from kombu import Connection

    from lark_events_core.contrib.celery import CARRIER_HEADER, CeleryExecutor

    from .celery_traced import celery_app_for, dispatcher_for

    monkeypatch.delenv("CELERY_BROKER_URL", raising=False)  # it would override memory://
    provider = _provider(exporter)  # ParentBased(ALWAYS_ON): the incoming flag decides
    queue = f"q-{uuid.uuid4().hex}"
    app = celery_app_for("memory://", queue)  # one app per side, as in two processes
    web, worker = (
        dispatcher_for(app, provider),
        dispatcher_for(celery_app_for(None, queue), provider),
    )
    seen: list[trace.SpanContext] = []
    event_type = "im.chat.updated_v1"
    web.on(event_type, lambda event: None)
    worker.on(event_type, _user_handler(provider, seen))
    with _incoming("00"):
        assert web.handle(event_request(event_type, "ev-out-celery")).status == 200
    with Connection("memory://") as conn:
        message = conn.SimpleQueue(app.conf.task_default_queue).get(timeout=5)
    carrier = message.headers[CARRIER_HEADER]
    version, trace_id, span_id, flags = carrier["traceparent"].split("-")
    assert (version, trace_id, flags) == ("00", TRACE_ID, "00")
    assert span_id != PARENT_ID  # the web side's (unrecorded) event span
    executor = worker.executor
    assert isinstance(executor, CeleryExecutor)
    args, _, _ = message.payload
    assert executor.task.apply(args=args, headers={CARRIER_HEADER: carrier})
    assert list(exporter.get_finished_spans()) == []  # neither side's event, attempt, user span
    (user,) = seen
    assert f"{user.trace_id:032x}" == TRACE_ID
    assert not user.trace_flags.sampled


class _InvalidTracer(trace.Tracer):
    """A tracer handing out the API's INVALID_SPAN (no trace id) for every span."""

    def start_span(self, *args: Any, **kwargs: Any) -> trace.Span:
        return trace.INVALID_SPAN

    def start_as_current_span(self, *args: Any, **kwargs: Any) -> Any:
        return trace.use_span(trace.INVALID_SPAN)


class _InvalidProvider(trace.TracerProvider):
    def get_tracer(self, *args: Any, **kwargs: Any) -> trace.Tracer:
        return _InvalidTracer()


def test_an_event_span_without_a_trace_leaves_the_callers_span_current(
    exporter: InMemorySpanExporter,
) -> None:
    dispatcher = Dispatcher(KEY, TOKEN, observers=[TracingObserver(_InvalidProvider())])
    seen: list[trace.Span] = []
    dispatcher.on(MESSAGE, lambda event: seen.append(trace.get_current_span()))
    server = _provider(exporter).get_tracer("framework").start_span("server")
    with trace.use_span(server, end_on_exit=True):
        assert dispatcher.handle(event_request(MESSAGE, "ev-invalid")).status == 200
    assert seen == [server]  # not hidden behind the event's span, which has no trace
