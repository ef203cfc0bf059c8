"""The handler attempt's span is current while the handler runs, in every executor: the spans a
handler makes itself are children of its attempt's span, itself a child of the event's span."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from typing import Any

import pytest

pytest.importorskip("opentelemetry.sdk", reason="the OpenTelemetry SDK is not installed")

from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from lark_events_core import Dispatcher, Event
from lark_events_core.tracing import TracingObserver

from .mix import CASES, KEY, MESSAGE, TOKEN, dispatcher_for_mode, event_request, handle_and_drain

USER = "user db"


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
def provider(exporter: InMemorySpanExporter) -> Iterator[TracerProvider]:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield provider
    provider.shutdown()


def _user_span(provider: TracerProvider) -> None:
    """What a handler does: a span of its own, made current (as an instrumented client does)."""
    with provider.get_tracer("user").start_as_current_span(USER):
        pass


def _handler(provider: TracerProvider, is_async: bool) -> Callable[[Event[Any]], Any]:
    if is_async:

        async def async_handler(event: Event[Any]) -> None:
            await asyncio.sleep(0)
            _user_span(provider)

        return async_handler
    return lambda event: _user_span(provider)


def _named(spans: list[ReadableSpan], prefix: str) -> list[ReadableSpan]:
    return [s for s in spans if s.name.startswith(prefix)]


def _assert_nested(spans: list[ReadableSpan], mode: str, event_type: str = MESSAGE) -> None:
    """One event span, one attempt span under it, one user span under that, in one trace."""
    (event,) = _named(spans, "lark.event ")
    (attempt,) = _named(spans, "lark.handler ")
    (user,) = _named(spans, USER)
    assert event.name == f"lark.event {event_type}"
    assert attempt.parent is not None
    assert user.parent is not None
    assert attempt.parent.span_id == event.context.span_id
    assert user.parent.span_id == attempt.context.span_id
    assert {s.context.trace_id for s in (event, attempt, user)} == {event.context.trace_id}
    assert attempt.attributes is not None
    assert attempt.attributes["lark.handler.mode"] == mode


@pytest.mark.parametrize(("caller", "handler", "mode"), CASES)
def test_a_handlers_own_span_is_a_child_of_its_attempt_span(
    provider: TracerProvider,
    exporter: InMemorySpanExporter,
    caller: str,
    handler: str,
    mode: str,
) -> None:
    dispatcher, event_type = dispatcher_for_mode(mode, TracingObserver(provider))
    fn = _handler(provider, handler == "async")
    dispatcher.on(event_type, fn, deferred=mode == "deferred")
    request = event_request(event_type, f"ev-{caller}-{handler}-{mode}")

    def nothing_current() -> None:  # the attempt's context was detached: nothing leaks here
        assert trace.get_current_span() is trace.INVALID_SPAN

    assert handle_and_drain(dispatcher, request, caller, nothing_current) == 200
    spans = list(exporter.get_finished_spans())
    _assert_nested(spans, "deferred" if mode == "deferred" else "inline", event_type)


@pytest.mark.parametrize("caller", ["sync", "async"])
def test_each_retried_background_attempt_has_its_own_span_under_the_event_span(
    provider: TracerProvider, exporter: InMemorySpanExporter, caller: str
) -> None:
    dispatcher = Dispatcher(
        KEY, TOKEN, retries=2, retry_backoff=0, observers=[TracingObserver(provider)]
    )
    attempts: list[int] = []

    def flaky(event: Event[Any]) -> None:
        attempts.append(1)
        _user_span(provider)
        if len(attempts) < 3:
            raise RuntimeError(f"attempt {len(attempts)} fails")

    dispatcher.on(MESSAGE, flaky, deferred=True)
    request = event_request(MESSAGE, f"ev-retried-{caller}")
    assert handle_and_drain(dispatcher, request, caller) == 200
    spans = list(exporter.get_finished_spans())
    (event,) = _named(spans, "lark.event ")
    handlers = sorted(_named(spans, "lark.handler "), key=lambda s: s.start_time or 0)
    users = _named(spans, USER)
    assert len(handlers) == 3
    assert len(users) == 3
    assert {h.parent.span_id for h in handlers if h.parent} == {event.context.span_id}
    assert len({h.context.span_id for h in handlers}) == 3
    # each user span under its own attempt's span
    assert sorted(u.parent.span_id for u in users if u.parent) == sorted(
        h.context.span_id for h in handlers
    )
    assert [h.status.status_code for h in handlers] == [
        StatusCode.ERROR,
        StatusCode.ERROR,
        StatusCode.UNSET,
    ]
    assert [[e.name for e in h.events] for h in handlers] == [["exception"], ["exception"], []]
    assert event.attributes is not None
    assert event.attributes["lark.outcome"] == "done"


def test_under_a_server_span_the_event_span_is_its_child_and_the_user_span_is_ours(
    provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    # As under a framework's instrumentation: a server span is current when the request comes.
    dispatcher = Dispatcher(KEY, TOKEN, observers=[TracingObserver(provider)])
    dispatcher.on(MESSAGE, _handler(provider, False))
    server_tracer = provider.get_tracer("framework")
    with server_tracer.start_as_current_span("POST /webhook", kind=trace.SpanKind.SERVER):
        assert dispatcher.handle(event_request(MESSAGE, "ev-served")).status == 200
        assert trace.get_current_span().name == "POST /webhook"  # type: ignore[attr-defined]
    spans = list(exporter.get_finished_spans())
    (server,) = _named(spans, "POST /webhook")
    (event,) = _named(spans, "lark.event ")
    assert event.parent is not None
    assert event.parent.span_id == server.context.span_id
    _assert_nested([s for s in spans if s is not server], "inline")


def test_the_long_connections_handlers_spans_nest_under_their_attempt(
    provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    from lark_events_core.testing import make_event
    from tests.longconn.helpers import StrictPlatform, make_client, quiet_dispatcher, run_clean

    dispatcher = quiet_dispatcher()
    dispatcher.add_observer(TracingObserver(provider))
    kinds = {
        "im.message.receive_v1": ("async", False),
        "contact.user.created_v3": ("sync", False),
        "app_ticket": ("async", True),
        "im.chat.updated_v1": ("sync", True),
    }
    for event_type, (kind, deferred) in kinds.items():
        dispatcher.on(event_type, _handler(provider, kind == "async"), deferred=deferred)

    async def scenario() -> None:
        async with StrictPlatform() as platform:
            async with make_client(platform, dispatcher):
                await platform.wait_for_connections(1)
                for event_type in kinds:
                    pushed = await platform.push(make_event(event_type, {}))
                    assert (await pushed.ack()).code == 200
            platform.assert_no_violations()
        await dispatcher.aclose(5)

    run_clean(scenario)
    spans = list(exporter.get_finished_spans())
    for event_type, (_, deferred) in kinds.items():
        (event,) = [s for s in spans if s.name == f"lark.event {event_type}"]
        trace_spans = [s for s in spans if s.context.trace_id == event.context.trace_id]
        _assert_nested(trace_spans, "deferred" if deferred else "inline", event_type)
