"""Observability benchmark: the core's per-event cost with metrics and tracing on vs off.

Variants, over the same distinct pre-built encrypted and signed ``im.message.receive_v1``
requests (a do-nothing inline handler, deduplication on), measured in interleaved rounds whose
order rotates each round (machine noise hits every variant alike). Each round is timed in this
thread's CPU time (``time.thread_time``: time spent descheduled on a shared machine does not
count); the best and the median round are printed.

- ``off``: no observer (the default);
- ``base-observer``: an :class:`Observer` that does nothing (the cost of the hook calls alone);
- ``prometheus``: :class:`PrometheusObserver` on a private registry (single-process mode: plain
  numbers behind one lock, read by a collector);
- ``prometheus-client``: the same observer on prometheus_client's own metric objects, the code
  path of multiprocess mode (built with ``PROMETHEUS_MULTIPROC_DIR`` set, after prometheus_client
  was imported without it, so that its values stay in memory: the cost of the objects and their
  per-value locks, without multiprocess mode's file writes);
- ``tracing``: :class:`TracingObserver` on an SDK tracer provider with the SDK's default sampler
  (``ParentBased(ALWAYS_ON)``: every event recorded) and no exporter;
- ``tracing-ratio``: the same with ``ParentBased(TraceIdRatioBased(0.1))``;
- ``tracing-noop``: :class:`TracingObserver` on the API's default provider with no SDK
  configured: the no-op tracer an application gets with only ``opentelemetry-api`` (the
  benchmark also runs where the SDK is not installed, without the variants that need it);
- ``both``, ``both-ratio``, ``both-noop``: prometheus + tracing, prometheus + tracing-ratio,
  prometheus + tracing-noop;
- ``prometheus-floor``: an observer making the four prometheus_client updates of an accepted
  event (two counters, two histograms) on children bound once, nothing else: what
  ``prometheus-client`` cannot go below;
- ``sdk-span-floor``: an observer that starts and ends one bare SDK span per event, nothing else;
- ``sdk-2span-floor``: two bare SDK spans per event, the second a child of the first: what the
  SDK alone costs for the spans the tracing observer must make (the event's and its handler's);
- ``sdk-floor-attrs``: the same two spans carrying the seven attributes TracingObserver records
  (constants, in as few calls as the SDK allows);
- ``sdk-floor-current``: those, with the child span made the current context and restored
  (``context.attach``/``detach``), as TracingObserver does around the handler: the SDK's and
  the API's whole unavoidable cost.

Ratios against ``off`` are printed last, then (best rounds) what each library costs by itself
(its floor over ``base-observer``) and what our backend adds over its floor. Target: under 10%
overhead with both on; nothing measurable when off.

    .venv/bin/python benchmarks/bench_observe.py [--events 2000] [--rounds 15] [--only a,b]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from opentelemetry import context, trace
from prometheus_client import CollectorRegistry, Counter, Histogram

try:  # without the SDK (only opentelemetry-api), the variants that need it are left out
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased
except ImportError:
    SDK = False
else:
    SDK = True

from lark_events_core import Dispatcher, Event, Request
from lark_events_core.metrics import PrometheusObserver
from lark_events_core.observe import Observer
from lark_events_core.testing import make_event, sign_event
from lark_events_core.tracing import TracingObserver

KEY = "bench-observe-key"
TOKEN = "bench-observe-token"
MESSAGE = "im.message.receive_v1"
RATIO = 0.1


def requests_for(n: int) -> list[Request]:
    out = []
    for _ in range(n):
        body = make_event(MESSAGE, {"message": {"message_id": "om_x"}}, token=TOKEN)
        out.append(sign_event(body, encrypt_key=KEY).as_request())
    return out


def sdk_tracing() -> Observer:
    return TracingObserver(TracerProvider())


def ratio_tracing() -> Observer:
    return TracingObserver(TracerProvider(sampler=ParentBased(TraceIdRatioBased(RATIO))))


def noop_tracing() -> Observer:
    # No provider passed and none set globally: the API's proxy resolves to its no-op tracer,
    # exactly what an application with opentelemetry-api and no SDK gets.
    assert isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider)
    return TracingObserver()


#: The attribute values TracingObserver records for one accepted event, for the floor.
START = {
    "lark.event.type": MESSAGE,
    "lark.event.kind": "event_v2",
    "lark.event.id": "0123456789abcdef0123456789abcdef",
    "lark.tenant_key": "tenant_key_bench",
}
CHILD = {"lark.handler.mode": "inline"}
END = {"lark.outcome": "accepted", "lark.dedup.duplicate": False}


class SpanFloor(Observer):
    """Bare SDK spans, made in the cheapest way the SDK allows: one per event (``children=1``:
    and a child of it; ``attributes``: carrying the attributes TracingObserver records, given
    as constants; ``current``: the child made the current context, then restored). The SDK's
    own cost, without any of our code's logic."""

    def __init__(
        self, children: int = 0, *, attributes: bool = False, current: bool = False
    ) -> None:
        self.tracer = TracerProvider().get_tracer("bench")
        self.children = children
        self.attributes = attributes
        self.current = current

    def event_received(self, event: Event[Any]) -> object:
        attrs = self.attributes
        span = self.tracer.start_span("event", attributes=START if attrs else None)
        if self.children:
            parent = trace.set_span_in_context(span)
            child = self.tracer.start_span("child", parent, attributes=CHILD if attrs else None)
            if self.current:
                context.detach(context.attach(trace.set_span_in_context(child)))
            child.end()
        return span

    def event_finished(self, event: Event[Any], outcome: str, token: object) -> None:
        if isinstance(token, trace.Span):
            if self.attributes:
                token.set_attributes(END)
            token.end()


def client_prometheus() -> Observer:
    """PrometheusObserver on prometheus_client's metric objects (multiprocess mode's path)."""
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = "/nonexistent-bench-observe"
    try:
        return PrometheusObserver(CollectorRegistry())
    finally:
        del os.environ["PROMETHEUS_MULTIPROC_DIR"]


class PrometheusFloor(Observer):
    """The four prometheus_client updates an accepted event needs, on children bound once,
    nothing else: prometheus_client's own cost."""

    def __init__(self) -> None:
        registry = CollectorRegistry()
        buckets = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
        self.requests = Counter("requests", "", ["outcome"], registry=registry).labels("accepted")
        self.events = Counter("events", "", ["type"], registry=registry).labels(MESSAGE)
        self.answers = Histogram(
            "answer_seconds", "", ["outcome"], buckets=buckets, registry=registry
        ).labels("accepted")
        self.handlers = Histogram(
            "handler_seconds", "", ["type", "mode"], buckets=buckets, registry=registry
        ).labels(MESSAGE, "inline")

    def handler_finished(
        self,
        event: Event[Any],
        seconds: float,
        error: BaseException | None,
        *,
        deferred: bool,
        token: object,
    ) -> None:
        self.handlers.observe(seconds)

    def answered(self, event_type: str | None, outcome: str, status: int, seconds: float) -> None:
        self.requests.inc()
        self.events.inc()
        self.answers.observe(seconds)


#: The variants that need the OpenTelemetry SDK.
NEEDS_SDK = {
    "tracing",
    "tracing-ratio",
    "both",
    "both-ratio",
    "sdk-span-floor",
    "sdk-2span-floor",
    "sdk-floor-attrs",
    "sdk-floor-current",
}


def variants() -> dict[str, Callable[[], list[Observer]]]:
    every: dict[str, Callable[[], list[Observer]]] = {
        "off": list,
        "base-observer": lambda: [Observer()],
        "prometheus": lambda: [PrometheusObserver(CollectorRegistry())],
        "prometheus-client": lambda: [client_prometheus()],
        "tracing": lambda: [sdk_tracing()],
        "tracing-ratio": lambda: [ratio_tracing()],
        "tracing-noop": lambda: [noop_tracing()],
        "both": lambda: [PrometheusObserver(CollectorRegistry()), sdk_tracing()],
        "both-ratio": lambda: [PrometheusObserver(CollectorRegistry()), ratio_tracing()],
        "both-noop": lambda: [PrometheusObserver(CollectorRegistry()), noop_tracing()],
        "prometheus-floor": lambda: [PrometheusFloor()],
        "sdk-span-floor": lambda: [SpanFloor()],
        "sdk-2span-floor": lambda: [SpanFloor(children=1)],
        "sdk-floor-attrs": lambda: [SpanFloor(children=1, attributes=True)],
        "sdk-floor-current": lambda: [SpanFloor(children=1, attributes=True, current=True)],
    }
    return {name: make for name, make in every.items() if SDK or name not in NEEDS_SDK}


def one_round(make: Callable[[], list[Observer]], requests: list[Request]) -> float:
    dispatcher = Dispatcher(KEY, TOKEN, observers=make() or None)
    dispatcher.on(MESSAGE, lambda event: None)
    handle = dispatcher.handle
    start = time.thread_time()
    for request in requests:
        handle(request)
    return (time.thread_time() - start) / len(requests)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--only", default="", help="comma-separated variants (off is always run)")
    args = parser.parse_args()
    chosen = variants()
    if args.only:
        keep = {"off", *args.only.split(",")}
        chosen = {name: make for name, make in chosen.items() if name in keep}
    requests = requests_for(args.events)
    one_round(list, requests[: min(200, len(requests))])  # warm-up: imports, caches
    samples: dict[str, list[float]] = {name: [] for name in chosen}
    names = list(chosen)
    for index in range(args.rounds):
        shift = index % len(names)
        for name in names[shift:] + names[:shift]:
            samples[name].append(one_round(chosen[name], requests))
    best = {name: min(values) for name, values in samples.items()}
    median = {name: statistics.median(values) for name, values in samples.items()}
    print(f"{args.rounds} interleaved rounds x {args.events} events, thread CPU time per event")
    if not SDK:
        print("opentelemetry-sdk is not installed: only the variants without it")
    print(f"{'variant':>16}  {'best us':>8}  {'median us':>9}  {'best/off':>8}  {'median/off':>10}")
    for name in names:
        print(
            f"{name:>16}  {best[name] * 1e6:8.2f}  {median[name] * 1e6:9.2f}"
            f"  {best[name] / best['off']:8.3f}  {median[name] / median['off']:10.3f}"
        )
    pairs = [
        ("prometheus-client", "prometheus-floor"),
        ("tracing", "sdk-2span-floor"),
        ("tracing", "sdk-floor-attrs"),
        ("tracing", "sdk-floor-current"),
    ]
    for variant, floor_name in pairs:
        if {variant, floor_name, "base-observer"} <= best.keys():
            floor = best[floor_name] - best["base-observer"]
            ours = best[variant] - best[floor_name]
            print(
                f"best rounds: {floor_name} costs {floor * 1e6:.2f} us per event over "
                f"base-observer ({floor / best['off']:.0%} of off); {variant} adds "
                f"{ours * 1e6:.2f} us over it"
            )


if __name__ == "__main__":
    main()
