"""Observability benchmark: the core's per-event cost with metrics and tracing on vs off.

Variants, over the same distinct pre-built encrypted and signed ``im.message.receive_v1``
requests, measured in interleaved rounds (the best round counts, so machine noise hits each
variant alike):

- ``off``: no observer (the default);
- ``base-observer``: an :class:`Observer` that does nothing (the cost of the hook calls alone);
- ``prometheus``: :class:`PrometheusObserver` on a private registry;
- ``tracing``: :class:`TracingObserver` on an SDK tracer provider with no exporter;
- ``both``.

Ratios against ``off`` are printed last. Target: under 10% overhead with both on; nothing
measurable when off.

    .venv/bin/python benchmarks/bench_observe.py [--events 2000] [--rounds 15]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from prometheus_client import CollectorRegistry

from lark_events_core import Dispatcher, Request
from lark_events_core.metrics import PrometheusObserver
from lark_events_core.observe import Observer
from lark_events_core.testing import make_event, sign_event

KEY = "bench-observe-key"
TOKEN = "bench-observe-token"
MESSAGE = "im.message.receive_v1"


def requests_for(n: int) -> list[Request]:
    out = []
    for _ in range(n):
        body = make_event(MESSAGE, {"message": {"message_id": "om_x"}}, token=TOKEN)
        out.append(sign_event(body, encrypt_key=KEY).as_request())
    return out


def tracing_observer() -> Observer:
    from opentelemetry.sdk.trace import TracerProvider

    from lark_events_core.tracing import TracingObserver

    return TracingObserver(TracerProvider())


def variants() -> dict[str, Callable[[], list[Observer]]]:
    return {
        "off": list,
        "base-observer": lambda: [Observer()],
        "prometheus": lambda: [PrometheusObserver(CollectorRegistry())],
        "tracing": lambda: [tracing_observer()],
        "both": lambda: [PrometheusObserver(CollectorRegistry()), tracing_observer()],
    }


def one_round(make: Callable[[], list[Observer]], requests: list[Request]) -> float:
    dispatcher = Dispatcher(KEY, TOKEN, observers=make() or None)
    dispatcher.on(MESSAGE, lambda event: None)
    handle = dispatcher.handle
    start = time.perf_counter()
    for request in requests:
        handle(request)
    return (time.perf_counter() - start) / len(requests)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    requests = requests_for(args.events)
    best: dict[str, float] = {}
    for _ in range(args.rounds):
        for name, make in variants().items():
            cost = one_round(make, requests)
            best[name] = min(best.get(name, cost), cost)
    for name, cost in best.items():
        print(f"{name:>14}: {cost * 1e6:7.2f} us/event")
    print("ratios against off (1.00 = no cost):")
    for name, cost in best.items():
        print(f"{name:>14}: {cost / best['off']:.3f}")


if __name__ == "__main__":
    main()
