"""Prometheus metrics for a dispatcher (``pip install "lark-events[metrics]"``).

``Dispatcher(observers=[PrometheusObserver()])`` counts requests by outcome, rejections by
reason, events by type; times handlers and answers; gauges the background queue and the long
connection. :func:`metrics_body` renders what a ``/metrics`` route answers, and under gunicorn's
multiprocess mode (``PROMETHEUS_MULTIPROC_DIR`` set) aggregates every worker's values.

Label values are fixed words and event types (capped in number and length), never ids.
"""

from __future__ import annotations

import os
import threading
import time
import weakref
from typing import TYPE_CHECKING, Any

from . import _extras
from .observe import Observer

try:
    from prometheus_client import (
        REGISTRY,
        CollectorRegistry,
        Counter,
        Gauge,
        Histogram,
        generate_latest,
    )
    from prometheus_client.exposition import CONTENT_TYPE_LATEST
except ImportError as exc:
    _extras.missing_extra(exc, "metrics", __name__)

if TYPE_CHECKING:
    from .dispatcher import Dispatcher
    from .events.base import Event

__all__ = ["CONTENT_TYPE_LATEST", "PrometheusObserver", "instrument", "metrics_body"]

#: Event types beyond this many distinct ones are counted as ``other``.
DEFAULT_MAX_EVENT_TYPES = 200
_MAX_TYPE_LENGTH = 96
_SECONDS_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


class _Metrics:
    """The metric objects of one registry (created once: a registry refuses duplicates)."""

    def __init__(self, registry: CollectorRegistry | None, namespace: str) -> None:
        kw: dict[str, Any] = {"registry": registry, "namespace": namespace}
        self.requests = Counter("requests", "Requests by outcome.", ["outcome"], **kw)
        self.rejections = Counter(
            "rejections", "Requests refused before any handler, by reason.", ["reason"], **kw
        )
        self.events = Counter("events", "Authenticated events by event type.", ["type"], **kw)
        self.handler_seconds = Histogram(
            "handler_seconds",
            "Handler run time, by event type and mode (inline or deferred).",
            ["type", "mode"],
            buckets=_SECONDS_BUCKETS,
            **kw,
        )
        self.handler_errors = Counter(
            "handler_errors",
            "Handler attempts that raised, by event type and mode.",
            ["type", "mode"],
            **kw,
        )
        self.answer_seconds = Histogram(
            "answer_seconds",
            "Time from an authenticated event to its answer, by outcome.",
            ["outcome"],
            buckets=_SECONDS_BUCKETS,
            **kw,
        )
        self.background = Counter(
            "background_jobs_finished",
            "Deferred jobs finished, by result (done, failed).",
            ["result"],
            **kw,
        )
        self.background_jobs = Gauge(
            "background_jobs",
            "Deferred jobs queued or running, by state.",
            ["state"],
            multiprocess_mode="livesum",
            **kw,
        )
        self.store_errors = Counter(
            "dedup_store_errors", "Deduplication store failures, by action.", ["action"], **kw
        )
        self.connected = Gauge(
            "longconn_connected",
            "1 while the long connection is up.",
            multiprocess_mode="livemax",
            **kw,
        )
        self.connects = Counter(
            "longconn_connects",
            "Long connections established (the first, then reconnects).",
            **kw,
        )
        self.last_frame = Gauge(
            "longconn_last_frame_timestamp_seconds",
            "Unix time of the last data frame received over the long connection.",
            multiprocess_mode="livemax",
            **kw,
        )
        self.acks = Counter("longconn_acks", "Frames acknowledged, by code.", ["code"], **kw)


_by_registry: weakref.WeakKeyDictionary[CollectorRegistry, dict[str, _Metrics]] = (
    weakref.WeakKeyDictionary()
)
_lock = threading.Lock()


def _metrics_for(registry: CollectorRegistry, namespace: str) -> _Metrics:
    with _lock:
        per_namespace = _by_registry.setdefault(registry, {})
        metrics = per_namespace.get(namespace)
        if metrics is None:
            metrics = per_namespace[namespace] = _Metrics(registry, namespace)
        return metrics


class PrometheusObserver(Observer):
    """Records the dispatcher's reports as Prometheus metrics in ``registry``.

    ``registry`` defaults to prometheus_client's global one (what ``/metrics`` exporters and
    gunicorn's multiprocess mode read). Several observers on one registry share its metrics.
    ``max_event_types`` caps the ``type`` label; later types count as ``other``.
    """

    def __init__(
        self,
        registry: CollectorRegistry = REGISTRY,
        *,
        namespace: str = "lark_events",
        max_event_types: int = DEFAULT_MAX_EVENT_TYPES,
    ) -> None:
        self.registry = registry
        self.metrics = _metrics_for(registry, namespace)
        self.max_event_types = max_event_types
        self._types: set[str] = set()
        # Label children, looked up once: ``labels()`` takes a lock and builds a tuple per call.
        self._children: dict[tuple[str, ...], Any] = {}
        # The children each event touches, by outcome and by (admitted) event type: one dict
        # lookup each on the hot path. Bounded: outcomes are fixed words, and only the event
        # types admitted under ``max_event_types`` are kept (the rest share ``other``).
        self._requests: dict[str, Any] = {}
        self._answers: dict[str, Any] = {}
        self._events: dict[str, Any] = {}
        self._inline: dict[str, Any] = {}
        self._deferred: dict[str, Any] = {}

    def _child(self, name: str, *labels: str) -> Any:
        key = (name, *labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = getattr(self.metrics, name).labels(*labels)
        return child

    def _by_type(self, cache: dict[str, Any], event_type: str | None, name: str, *more: str) -> Any:
        """The child of metric ``name`` for ``event_type`` (then ``more`` labels), cached in
        ``cache`` when the type is admitted as a label of its own."""
        label = self._type(event_type)
        child = self._child(name, label, *more)
        if event_type is not None and label == event_type:
            cache[event_type] = child
        return child

    def _type(self, event_type: str | None) -> str:
        if not event_type:
            return "unknown"
        if event_type in self._types:
            return event_type
        if (
            len(event_type) > _MAX_TYPE_LENGTH
            or not event_type.isascii()
            or not event_type.isprintable()
            or len(self._types) >= self.max_event_types
        ):
            return "other"
        self._types.add(event_type)  # a set add is atomic under the GIL
        return event_type

    def request_rejected(self, reason: str, status: int) -> None:
        self._child("requests", "rejected").inc()
        self._child("rejections", reason).inc()

    def answered(self, event_type: str | None, outcome: str, status: int, seconds: float) -> None:
        child = self._requests.get(outcome)
        if child is None:
            child = self._requests[outcome] = self._child("requests", outcome)
        child.inc()
        if event_type is not None:
            child = self._events.get(event_type)
            if child is None:
                child = self._by_type(self._events, event_type, "events")
            child.inc()
        if seconds > 0:
            child = self._answers.get(outcome)
            if child is None:
                child = self._answers[outcome] = self._child("answer_seconds", outcome)
            child.observe(seconds)

    def handler_finished(
        self,
        event: Event[Any],
        seconds: float,
        error: BaseException | None,
        *,
        deferred: bool,
        token: object,
    ) -> None:
        cache, mode = (self._deferred, "deferred") if deferred else (self._inline, "inline")
        child = cache.get(event.type)
        if child is None:
            child = self._by_type(cache, event.type, "handler_seconds", mode)
        child.observe(seconds)
        if error is not None:
            self._child("handler_errors", self._type(event.type), mode).inc()

    def event_finished(self, event: Event[Any], outcome: str, token: object) -> None:
        if outcome in ("done", "failed"):
            self._child("background", outcome).inc()

    def background_changed(self, queued: int, running: int) -> None:
        if queued:
            self._child("background_jobs", "queued").inc(queued)
        if running:
            self._child("background_jobs", "running").inc(running)

    def store_error(self, action: str) -> None:
        self._child("store_errors", action).inc()

    def connection_changed(self, connected: bool) -> None:
        self.metrics.connected.set(1 if connected else 0)
        if connected:
            self.metrics.connects.inc()

    def frame_received(self) -> None:
        self.metrics.last_frame.set(time.time())

    def ack_sent(self, code: int) -> None:
        self._child("acks", str(code)).inc()


def metrics_body(registry: CollectorRegistry = REGISTRY) -> tuple[bytes, str]:
    """The exposition body and its content type, for a ``/metrics`` route.

    With ``PROMETHEUS_MULTIPROC_DIR`` set (gunicorn multiprocess mode), the values of every
    worker process are read from that directory and summed, whatever ``registry`` is.
    """
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        collected = CollectorRegistry()
        multiprocess.MultiProcessCollector(collected)  # type: ignore[no-untyped-call]
        return generate_latest(collected), CONTENT_TYPE_LATEST
    return generate_latest(registry), CONTENT_TYPE_LATEST


def instrument(
    dispatcher: Dispatcher, registry: CollectorRegistry = REGISTRY
) -> PrometheusObserver:
    """Add a :class:`PrometheusObserver` on ``registry`` to ``dispatcher`` once; return it."""
    from .observe import members

    for member in members(dispatcher.observer):
        if isinstance(member, PrometheusObserver) and member.registry is registry:
            return member
    observer = PrometheusObserver(registry)
    dispatcher.add_observer(observer)
    return observer
