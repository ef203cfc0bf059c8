"""OpenTelemetry spans for a dispatcher (``pip install "lark-events[otel]"``).

``Dispatcher(observers=[TracingObserver()])`` opens one span per authenticated event (child of
whatever span is current: the framework's own OTel instrumentation, when present), with one
child span per handler attempt, inline or in the background, current while the handler runs:
the spans the handler makes itself are children of its attempt's span. Rejected requests get a
short span of their own. Attributes are the event's type, id, tenant and outcome: never bodies
or secrets.
An event handed to a Celery worker takes its span's context along (W3C ``traceparent`` through
``opentelemetry.propagate``): the worker's spans are children of that span.

Only ``opentelemetry-api`` is needed here; the application installs and configures the SDK.
Until it does (no global tracer provider set: the API's no-op tracer), and for a provider whose
tracers are no-ops (``NoOpTracerProvider``, ``OTEL_SDK_DISABLED``), an event costs one attribute
read and nothing else: no span, not even the API's no-op one. A sampled-out event costs the
sampler's decision (one unrecorded span), made current around each handler attempt so that the
handler's own spans join the event's trace and its decision, and nothing more: no child span, no
attribute set after the start, no event.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from typing import TYPE_CHECKING, Any

from . import _extras
from .observe import Observer

try:
    from opentelemetry import context, propagate, trace
    from opentelemetry.trace import NoOpTracer, ProxyTracer, SpanKind, Status, StatusCode
except ImportError as exc:
    _extras.missing_extra(exc, "otel", __name__)

from .events.base import Kind

if TYPE_CHECKING:
    from contextvars import Token

    from .events.base import Event

    #: An attempt in progress: its span (``None``: the event is sampled out, none was made), and
    #: the token restoring the context it replaced.
    _Attempt = tuple[trace.Span | None, Token[context.Context]]

__all__ = ["TracingObserver"]

_FAILED = frozenset({"handler_error", "failed", "busy", "store_unavailable"})
_KIND_VALUES = {kind: kind.value for kind in Kind}  # an Enum's ``.value`` is a slow property
_MODES = {False: {"lark.handler.mode": "inline"}, True: {"lark.handler.mode": "deferred"}}
_NOT_SET = object()


def _global_provider() -> object:
    """The global tracer provider set so far, ``None`` if none is, read without the public
    :func:`opentelemetry.trace.get_tracer_provider` (which looks up an environment variable on
    each call: a microsecond). :data:`_NOT_SET` if the API keeps it elsewhere than in the
    module variable it has had since 1.0: then the proxy tracer is always used."""
    return getattr(trace, "_TRACER_PROVIDER", _NOT_SET)


class TracingObserver(Observer):
    """Records events as OpenTelemetry spans from ``tracer_provider`` (default: the global one)."""

    def __init__(self, tracer_provider: trace.TracerProvider | None = None) -> None:
        self.tracer = trace.get_tracer("lark_events", tracer_provider=tracer_provider)
        #: The tracer spans come from; ``None`` while there is none that records anything (the
        #: API's proxy with no provider set yet, or a no-op tracer).
        self._live: trace.Tracer | None = None
        self._resolve()

    def _resolve(self) -> trace.Tracer | None:
        """The tracer that records, found once a provider is there (a global provider, once
        set, cannot be replaced); ``None`` until then, at the cost of one attribute read."""
        tracer = self.tracer
        if isinstance(tracer, NoOpTracer):
            return None  # a no-op for good (NoOpTracerProvider, OTEL_SDK_DISABLED=true)
        if isinstance(tracer, ProxyTracer):
            provider = _global_provider()
            if provider is None:
                return None  # nothing configured yet: the proxy would hand out no-op spans
            if provider is not _NOT_SET:
                tracer = trace.get_tracer("lark_events")  # the provider's own, not the proxy
                if isinstance(tracer, NoOpTracer):
                    self.tracer = tracer
                    return None
        self._live = tracer
        return tracer

    def request_rejected(self, reason: str, status: int) -> None:
        """A short span for a refused request, marked as an error."""
        tracer = self._live or self._resolve()
        if tracer is None:
            return
        span = tracer.start_span(
            "lark.request rejected",
            kind=SpanKind.SERVER,
            attributes={"lark.reject_reason": reason, "http.response.status_code": status},
        )
        if span.is_recording():
            span.set_status(Status(StatusCode.ERROR, reason))
            span.end()

    def event_received(self, event: Event[Any]) -> object:
        """Open the event's span, its attributes given at the start (one call, and samplers
        see them); it ends when the event is finished. ``None`` when nothing records."""
        tracer = self._live or self._resolve()
        if tracer is None:
            return None
        event_type = event.type
        attributes: dict[str, str] = {
            "lark.event.type": event_type,
            "lark.event.kind": _KIND_VALUES[event.kind],
        }
        header = event.header
        if header.event_id:
            attributes["lark.event.id"] = header.event_id
        if header.tenant_key:
            attributes["lark.tenant_key"] = header.tenant_key
        return tracer.start_span(
            f"lark.event {event_type}", kind=SpanKind.CONSUMER, attributes=attributes
        )

    def handler_started(self, event: Event[Any], *, deferred: bool, token: object) -> object:
        """Start the attempt's span, a child of the event's span, and make it current in the
        thread or task that runs the handler: the handler's own spans (a database call, an
        instrumented HTTP client) become its children.

        When the event's span is not recorded (sampled out), no attempt span is made: the
        event's unrecorded span is made current instead, so that the handler's spans keep its
        trace id and its sampled-out flag (``ParentBased`` samplers drop them, as they would
        have dropped the attempt's span). Nothing at all with no span (no tracer records)."""
        parent: trace.Span = token  # type: ignore[assignment]  # what event_received returned
        if parent is None:
            return None
        if not parent.is_recording():
            if not parent.get_span_context().is_valid:
                return None  # a tracer's INVALID_SPAN: no trace to keep, the caller's stays
            return None, context.attach(trace.set_span_in_context(parent))
        under = trace.set_span_in_context(parent)  # the current context, with the event span
        tracer = self._live or self.tracer  # set: the event span was recorded
        span = tracer.start_span(
            f"lark.handler {event.type}", context=under, attributes=_MODES[deferred]
        )
        return span, context.attach(trace.set_span_in_context(span, under))

    def handler_finished(
        self,
        event: Event[Any],
        seconds: float,
        error: BaseException | None,
        *,
        deferred: bool,
        token: object,
    ) -> None:
        """Restore the context the attempt ran in, and end its span (an error is recorded on it).

        A subclass overriding this must call it: the attempt's span stays current otherwise.
        """
        if token is None:
            return  # no span was started
        attempt: _Attempt = token  # type: ignore[assignment]  # what handler_started returned
        span, attached = attempt
        context.detach(attached)
        if span is None:
            return  # the event was sampled out: its unrecorded span was current, nothing else
        if error is not None:
            span.record_exception(error)
            span.set_status(Status(StatusCode.ERROR, type(error).__name__))
        span.end()

    def event_finished(self, event: Event[Any], outcome: str, token: object) -> None:
        """Close the event's span with its outcome."""
        # ``token`` is what event_received returned (``None`` if it failed): no isinstance test
        # against the Span ABC on every event.
        span: trace.Span = token  # type: ignore[assignment]
        if span is None or not span.is_recording():
            return  # nothing was recorded: ending a non-recording span does nothing
        span.set_attributes(
            {"lark.outcome": outcome, "lark.dedup.duplicate": outcome == "duplicate"}
        )
        if outcome in _FAILED:
            span.set_status(Status(StatusCode.ERROR, outcome))
        span.end()

    def carrier(self, token: object) -> dict[str, str]:
        """The event span's context in the globally configured propagator's headers.

        With OpenTelemetry's default propagators that is W3C ``traceparent`` (and ``tracestate``,
        ``baggage`` when set); ``OTEL_PROPAGATORS`` or ``propagate.set_global_textmap`` change it.
        """
        if isinstance(token, trace.Span):
            under: context.Context | None = trace.set_span_in_context(token)
        elif token is None and self._live is None:
            # Nothing records, so no span was made: pass on the caller's context (an incoming
            # ``traceparent`` a middleware made current), as the API's no-op span would.
            under = None
        else:
            return {}
        out: dict[str, str] = {}
        propagate.inject(out, context=under)
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
