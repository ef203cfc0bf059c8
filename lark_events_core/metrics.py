"""Prometheus metrics for a dispatcher (``pip install "lark-events[metrics]"``).

``Dispatcher(observers=[PrometheusObserver()])`` counts requests by outcome, rejections by
reason, events by type; times handlers and answers; gauges the background queue and the long
connection. :func:`metrics_body` renders what a ``/metrics`` route answers, and under gunicorn's
multiprocess mode (``PROMETHEUS_MULTIPROC_DIR`` set) aggregates every worker's values.

In a single process the values are plain Python numbers behind one lock, read by a collector
registered in the registry (a prometheus_client counter or histogram update takes a lock per
value and costs several times more); in multiprocess mode they are prometheus_client's own
metric objects, which write to the shared directory. Either way the registry shows the same
names, labels, types and values.

Label values are fixed words and event types (capped in number and length), never ids.
"""

from __future__ import annotations

import os
import threading
import time
import weakref
from bisect import bisect_left
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from . import _extras
from .observe import Observer

try:
    import prometheus_client.metrics
    from prometheus_client import (
        REGISTRY,
        CollectorRegistry,
        Counter,
        Gauge,
        Histogram,
        generate_latest,
    )
    from prometheus_client.exposition import CONTENT_TYPE_LATEST
    from prometheus_client.metrics_core import Metric
    from prometheus_client.registry import Collector
    from prometheus_client.utils import floatToGoString
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
_BOUNDS = tuple(float(b) for b in _SECONDS_BUCKETS)
#: The ``le`` label of each bucket as prometheus_client writes it (``0.001`` ... ``+Inf``).
_LE = tuple(floatToGoString(b) for b in (*_BOUNDS, float("inf")))  # type: ignore[no-untyped-call]

#: Every metric: (attribute, type, name, help, labels, gauge's multiprocess mode).
_SPECS: tuple[tuple[str, str, str, str, tuple[str, ...], str], ...] = (
    ("requests", "counter", "requests", "Requests by outcome.", ("outcome",), ""),
    (
        "rejections",
        "counter",
        "rejections",
        "Requests refused before any handler, by reason.",
        ("reason",),
        "",
    ),
    ("events", "counter", "events", "Authenticated events by event type.", ("type",), ""),
    (
        "handler_seconds",
        "histogram",
        "handler_seconds",
        "Handler run time, by event type and mode (inline or deferred).",
        ("type", "mode"),
        "",
    ),
    (
        "handler_errors",
        "counter",
        "handler_errors",
        "Handler attempts that raised, by event type and mode.",
        ("type", "mode"),
        "",
    ),
    (
        "answer_seconds",
        "histogram",
        "answer_seconds",
        "Time from an authenticated event to its answer, by outcome.",
        ("outcome",),
        "",
    ),
    (
        "background",
        "counter",
        "background_jobs_finished",
        "Deferred jobs finished, by result (done, failed).",
        ("result",),
        "",
    ),
    (
        "background_jobs",
        "gauge",
        "background_jobs",
        "Deferred jobs queued or running, by state.",
        ("state",),
        "livesum",
    ),
    (
        "store_errors",
        "counter",
        "dedup_store_errors",
        "Deduplication store failures, by action.",
        ("action",),
        "",
    ),
    (
        "connected",
        "gauge",
        "longconn_connected",
        "1 while the long connection is up.",
        (),
        "livemax",
    ),
    (
        "connects",
        "counter",
        "longconn_connects",
        "Long connections established (the first, then reconnects).",
        (),
        "",
    ),
    (
        "last_frame",
        "gauge",
        "longconn_last_frame_timestamp_seconds",
        "Unix time of the last data frame received over the long connection.",
        (),
        "livemax",
    ),
    ("acks", "counter", "longconn_acks", "Frames acknowledged, by code.", ("code",), ""),
)


_HISTOGRAMS = frozenset(spec[0] for spec in _SPECS if spec[1] == "histogram")


def _multiprocess() -> bool:
    """Whether prometheus_client keeps its values in files (its own test, in ``values``)."""
    return "PROMETHEUS_MULTIPROC_DIR" in os.environ or "prometheus_multiproc_dir" in os.environ


class _ClientMetrics:
    """prometheus_client's metric objects in one registry (multiprocess mode: each update goes to
    the worker's file). ``child(name, *labels)`` is the metric's child for those labels."""

    lock = None  # each prometheus_client value has a lock of its own

    def __init__(self, registry: CollectorRegistry, namespace: str) -> None:
        self._metrics: dict[str, Any] = {}
        kw: dict[str, Any] = {"registry": registry, "namespace": namespace}
        for attr, kind, name, doc, labels, mode in _SPECS:
            if kind == "counter":
                metric: Any = Counter(name, doc, labels, **kw)
            elif kind == "histogram":
                metric = Histogram(name, doc, labels, buckets=_SECONDS_BUCKETS, **kw)
            else:
                metric = Gauge(name, doc, labels, **{**kw, "multiprocess_mode": mode})
            self._metrics[attr] = metric

    def child(self, name: str, *labels: str) -> Any:
        metric = self._metrics[name]
        return metric.labels(*labels) if labels else metric


class _Value:
    """A counter's or a gauge's value for one set of label values."""

    __slots__ = ("created", "lock", "value")

    def __init__(self, lock: threading.Lock) -> None:
        self.lock = lock
        self.value = 0.0
        self.created = time.time()

    def inc(self, amount: float = 1) -> None:
        with self.lock:
            self.value += amount

    def set(self, value: float) -> None:
        with self.lock:
            self.value = value


class _Buckets:
    """A histogram's counts (per bucket, not cumulative) and sum for one set of label values."""

    __slots__ = ("counts", "created", "lock", "sum")

    def __init__(self, lock: threading.Lock) -> None:
        self.lock = lock
        self.counts = [0] * len(_LE)
        self.sum = 0.0
        self.created = time.time()

    def observe(self, seconds: float) -> None:
        bucket = bisect_left(_BOUNDS, seconds)  # the first bound >= seconds, as prometheus_client
        with self.lock:
            self.counts[bucket] += 1
            self.sum += seconds


class _LocalMetrics(Collector):
    """The metrics of one registry as plain numbers behind one lock, and the collector that
    shows them to the registry as prometheus_client's objects would (single-process mode)."""

    def __init__(self, registry: CollectorRegistry, namespace: str) -> None:
        #: Guards every value of these metrics. One uncontended acquisition per update (or per
        #: group of updates: :meth:`PrometheusObserver.answered` makes three under it).
        self.lock = threading.Lock()
        self._namespace = namespace
        self._values: dict[str, dict[tuple[str, ...], Any]] = {spec[0]: {} for spec in _SPECS}
        for attr, _, _, _, labels, _ in _SPECS:
            if not labels:  # as prometheus_client does: shown (as 0) from the start
                self.child(attr)
        registry.register(self)

    def child(self, name: str, *labels: str) -> Any:
        values = self._values[name]
        value = values.get(labels)
        if value is None:
            with self.lock:
                value = values.get(labels)
                if value is None:
                    kind = _Buckets if name in _HISTOGRAMS else _Value
                    value = values[labels] = kind(self.lock)
        return value

    def describe(self) -> Iterable[Metric]:
        """The metrics without their samples: what the registry checks for duplicate names."""
        return [
            Metric(f"{self._namespace}_{name}", doc, kind) for _, kind, name, doc, _, _ in _SPECS
        ]

    def collect(self) -> Iterable[Metric]:
        """Every metric with its samples, as prometheus_client's Counter, Histogram and Gauge
        show theirs (``_created`` samples unless prometheus_client was told not to)."""
        created = getattr(prometheus_client.metrics, "_use_created", True)
        with self.lock:
            snapshot = {
                name: [(labels, _copy(value)) for labels, value in values.items()]
                for name, values in self._values.items()
            }
        out = []
        for attr, kind, name, doc, labelnames, _ in _SPECS:
            full = f"{self._namespace}_{name}"
            metric = Metric(full, doc, kind)
            for labels, (value, extra, when) in snapshot[attr]:
                base = dict(zip(labelnames, labels, strict=True))
                if kind == "gauge":
                    metric.add_sample(full, base, value)
                    continue
                if kind == "counter":
                    metric.add_sample(f"{full}_total", base, value)
                else:
                    total = 0.0
                    for le, count in zip(_LE, extra, strict=True):
                        total += count
                        metric.add_sample(f"{full}_bucket", {**base, "le": le}, total)
                    metric.add_sample(f"{full}_count", base, total)
                    metric.add_sample(f"{full}_sum", base, value)
                if created:
                    metric.add_sample(f"{full}_created", base, when)
            out.append(metric)
        return out


def _copy(value: _Value | _Buckets) -> tuple[float, list[int], float]:
    """(value or sum, bucket counts, creation time) of ``value``, read under its lock."""
    if isinstance(value, _Buckets):
        return value.sum, list(value.counts), value.created
    return value.value, [], value.created


_Metrics = _ClientMetrics | _LocalMetrics

_by_registry: weakref.WeakKeyDictionary[CollectorRegistry, dict[str, _Metrics]] = (
    weakref.WeakKeyDictionary()
)
_lock = threading.Lock()


def _metrics_for(registry: CollectorRegistry, namespace: str) -> _Metrics:
    """The metrics of ``registry`` under ``namespace``, made once (a registry refuses duplicate
    names): prometheus_client's objects in multiprocess mode, plain numbers otherwise."""
    with _lock:
        per_namespace = _by_registry.setdefault(registry, {})
        metrics = per_namespace.get(namespace)
        if metrics is None:
            kind = _ClientMetrics if _multiprocess() else _LocalMetrics
            metrics = per_namespace[namespace] = kind(registry, namespace)
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
        #: The lock of the plain values (``None``: prometheus_client's objects, multiprocess).
        self._lock = self.metrics.lock
        self.max_event_types = max_event_types
        self._types: set[str] = set()
        # Label children, looked up once (prometheus_client's ``labels()`` takes a lock and
        # builds a tuple per call).
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
            child = self._children[key] = self.metrics.child(name, *labels)
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
        requests = self._requests.get(outcome)
        if requests is None:
            requests = self._requests[outcome] = self._child("requests", outcome)
        events = None
        if event_type is not None:
            events = self._events.get(event_type)
            if events is None:
                events = self._by_type(self._events, event_type, "events")
        answers = None
        if seconds > 0:
            answers = self._answers.get(outcome)
            if answers is None:
                answers = self._answers[outcome] = self._child("answer_seconds", outcome)
        lock = self._lock
        if lock is None:  # prometheus_client's objects (multiprocess mode)
            requests.inc()
            if events is not None:
                events.inc()
            if answers is not None:
                answers.observe(seconds)
            return
        # Plain values: the three updates of every answer under one acquisition of the lock.
        bucket = bisect_left(_BOUNDS, seconds)
        with lock:
            requests.value += 1
            if events is not None:
                events.value += 1
            if answers is not None:
                answers.counts[bucket] += 1
                answers.sum += seconds

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
        self._child("connected").set(1 if connected else 0)
        if connected:
            self._child("connects").inc()

    def frame_received(self) -> None:
        self._child("last_frame").set(time.time())

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
