"""OpenTelemetry spans for a dispatcher (``pip install "lark-events[otel]"``).

``Dispatcher(observers=[TracingObserver()])`` opens one span per authenticated event (child of
whatever span is current: the framework's own OTel instrumentation, when present), with one
child span per handler attempt, inline or in the background. Rejected requests get a short span
of their own. Attributes are the event's type, id, tenant and outcome: never bodies or secrets.
An event handed to a Celery worker takes its span's context along (W3C ``traceparent`` through
``opentelemetry.propagate``): the worker's spans are children of that span.

Only ``opentelemetry-api`` is needed here; the application installs and configures the SDK.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from typing import TYPE_CHECKING, Any

from . import _extras
from .observe import Observer

try:
    from opentelemetry import context, propagate, trace
    from opentelemetry.trace import SpanKind, Status, StatusCode
except ImportError as exc:
    _extras.missing_extra(exc, "otel", __name__)

if TYPE_CHECKING:
    from .events.base import Event

__all__ = ["TracingObserver"]

_FAILED = frozenset({"handler_error", "failed", "busy", "store_unavailable"})


class TracingObserver(Observer):
    """Records events as OpenTelemetry spans from ``tracer_provider`` (default: the global one)."""

    def __init__(self, tracer_provider: trace.TracerProvider | None = None) -> None:
        self.tracer = trace.get_tracer("lark_events", tracer_provider=tracer_provider)

    def request_rejected(self, reason: str, status: int) -> None:
        """A short span for a refused request, marked as an error."""
        span = self.tracer.start_span("lark.request rejected", kind=SpanKind.SERVER)
        span.set_attribute("lark.reject_reason", reason)
        span.set_attribute("http.response.status_code", status)
        span.set_status(Status(StatusCode.ERROR, reason))
        span.end()

    def event_received(self, event: Event[Any]) -> object:
        """Open the event's span; it ends when the event is finished."""
        span = self.tracer.start_span(f"lark.event {event.type}", kind=SpanKind.CONSUMER)
        span.set_attribute("lark.event.type", event.type)
        span.set_attribute("lark.event.kind", event.kind.value)
        if event.event_id:
            span.set_attribute("lark.event.id", event.event_id)
        if event.tenant_key:
            span.set_attribute("lark.tenant_key", event.tenant_key)
        return span

    def handler_finished(
        self,
        event: Event[Any],
        seconds: float,
        error: BaseException | None,
        *,
        deferred: bool,
        token: object,
    ) -> None:
        """A child span covering the attempt that just ended."""
        end = time.time_ns()
        parent = trace.set_span_in_context(token) if isinstance(token, trace.Span) else None
        span = self.tracer.start_span(
            f"lark.handler {event.type}",
            context=parent,
            start_time=end - int(seconds * 1e9),
        )
        span.set_attribute("lark.handler.mode", "deferred" if deferred else "inline")
        if error is not None:
            span.record_exception(error)
            span.set_status(Status(StatusCode.ERROR, type(error).__name__))
        span.end(end_time=end)

    def event_finished(self, event: Event[Any], outcome: str, token: object) -> None:
        """Close the event's span with its outcome."""
        if not isinstance(token, trace.Span):
            return
        token.set_attribute("lark.outcome", outcome)
        token.set_attribute("lark.dedup.duplicate", outcome == "duplicate")
        if outcome in _FAILED:
            token.set_status(Status(StatusCode.ERROR, outcome))
        token.end()

    def carrier(self, token: object) -> dict[str, str]:
        """The event span's context in the globally configured propagator's headers.

        With OpenTelemetry's default propagators that is W3C ``traceparent`` (and ``tracestate``,
        ``baggage`` when set); ``OTEL_PROPAGATORS`` or ``propagate.set_global_textmap`` change it.
        """
        if not isinstance(token, trace.Span):
            return {}
        out: dict[str, str] = {}
        propagate.inject(out, context=trace.set_span_in_context(token))
        return out

    def resume(self, carrier: Mapping[str, str]) -> AbstractContextManager[object]:
        """Make the sender's event span current: the worker's spans become its children."""
        return _attached(carrier)


@contextmanager
def _attached(carrier: Mapping[str, str]) -> Iterator[None]:
    if not carrier:
        yield
        return
    attached = context.attach(propagate.extract(carrier))
    try:
        yield
    finally:
        context.detach(attached)
