"""Trace context carried into Celery tasks: a real worker (RabbitMQ) records spans whose parent
is the web side's event span, also on Celery's retry; the carrier hooks without a worker."""

from __future__ import annotations

import contextlib
import tempfile
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

pytest.importorskip("opentelemetry.sdk", reason="the OpenTelemetry SDK is not installed")
pytest.importorskip("celery", reason="the celery extra is not installed")

from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from lark_events_core.contrib.celery import CARRIER_HEADER, CeleryExecutor
from lark_events_core.observe import Observer, Observers
from lark_events_core.tracing import TracingObserver
from tests.support.servers import celery_queue, celery_worker, wait_until
from tests.support.services import service_url

from .celery_traced import FAILS_ONCE, TRACED, celery_app_for, dispatcher_for
from .mix import event_request
from .spans_file import ENV_VAR, read


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
def provider(exporter: InMemorySpanExporter) -> TracerProvider:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider


def _event_span(exporter: InMemorySpanExporter, event_type: str) -> ReadableSpan:
    (span,) = [s for s in exporter.get_finished_spans() if s.name == f"lark.event {event_type}"]
    return span


@pytest.fixture
def broker_queue() -> Iterator[tuple[str, str]]:
    broker = service_url("CELERY_BROKER_URL")
    with celery_queue(broker) as queue:
        yield broker, queue


@pytest.mark.e2e
@pytest.mark.services
def test_a_real_workers_spans_are_children_of_the_event_span(
    broker_queue: tuple[str, str], exporter: InMemorySpanExporter, provider: TracerProvider
) -> None:
    broker, queue = broker_queue
    web = dispatcher_for(celery_app_for(broker, queue), provider)
    with tempfile.TemporaryDirectory(prefix="lark-spans-") as tmp:
        spans_file = Path(tmp) / "spans.jsonl"
        env = {
            "CELERY_BROKER_URL": broker,
            "LARK_TEST_QUEUE": queue,
            ENV_VAR: str(spans_file),
        }
        app = "tests.observe.celery_traced:celery_app"
        with celery_worker(env, queue, app=app):
            for event_type in (TRACED, FAILS_ONCE):
                request = event_request(event_type, f"ev-celery-{uuid.uuid4().hex}")
                assert web.handle(request).status == 200

            def handled() -> bool:
                names = [s["name"] for s in read(spans_file)]
                return "user work" in names and names.count(f"lark.handler {FAILS_ONCE}") == 2

            wait_until(handled, 60, "the worker's spans")
        worker = read(spans_file)
    # The web side answered at once: its event spans ended, before the worker ran.
    sent = _event_span(exporter, TRACED)
    assert sent.attributes is not None
    assert sent.attributes["lark.outcome"] == "accepted"
    ours = [s for s in worker if s["trace_id"] == sent.context.trace_id]
    by_name = {s["name"]: s for s in ours}
    # The worker's event span is a child of the sender's event span, its attempt span a child
    # of it, and the handler's own span a child of the attempt span (current while it ran).
    assert by_name[f"lark.event {TRACED}"]["parent"] == sent.context.span_id
    assert by_name[f"lark.event {TRACED}"]["attributes"]["lark.outcome"] == "done"
    handler = by_name[f"lark.handler {TRACED}"]
    assert handler["parent"] == by_name[f"lark.event {TRACED}"]["span_id"]
    assert handler["attributes"]["lark.handler.mode"] == "deferred"
    assert by_name["user work"]["parent"] == handler["span_id"]
    assert {s["name"] for s in ours} == {
        "user work",
        f"lark.event {TRACED}",
        f"lark.handler {TRACED}",
    }
    # Celery's retry is published with the same headers: both attempts join the sender's trace.
    failing = _event_span(exporter, FAILS_ONCE)
    attempts = [s for s in worker if s["name"] == f"lark.event {FAILS_ONCE}"]
    assert [s["attributes"]["lark.outcome"] for s in attempts] == ["retry", "done"]
    assert {(s["trace_id"], s["parent"]) for s in attempts} == {
        (failing.context.trace_id, failing.context.span_id)
    }


def test_the_message_headers_carry_the_event_spans_traceparent(
    provider: TracerProvider, exporter: InMemorySpanExporter, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kombu import Connection

    monkeypatch.delenv("CELERY_BROKER_URL", raising=False)  # it would override memory://

    app = celery_app_for("memory://", f"q-{uuid.uuid4().hex}")
    dispatcher = dispatcher_for(app, provider)
    assert dispatcher.handle(event_request(TRACED, "ev-carrier")).status == 200
    sent = _event_span(exporter, TRACED)
    with Connection("memory://") as conn:
        message = conn.SimpleQueue(app.conf.task_default_queue).get(timeout=5)
    carrier = message.headers[CARRIER_HEADER]
    trace_id = f"{sent.context.trace_id:032x}"
    span_id = f"{sent.context.span_id:016x}"
    flags = f"{int(sent.context.trace_flags):02x}"  # sampled (and, in newer SDKs, random)
    assert carrier == {"traceparent": f"00-{trace_id}-{span_id}-{flags}"}


def test_an_eager_task_resumes_the_carrier_from_its_headers(
    provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    from lark_events_core import HandlerCall
    from lark_events_core.contrib.celery import encode

    app = celery_app_for("memory://", "unused")
    dispatcher = dispatcher_for(app, provider)
    executor = dispatcher.executor
    assert isinstance(executor, CeleryExecutor)
    call = dispatcher.prepare(event_request(TRACED, "ev-eager"))
    assert isinstance(call, HandlerCall)
    parent = provider.get_tracer("test").start_span("sender")
    carrier = TracingObserver(provider).carrier(parent)
    assert executor.task.apply(args=(encode(dispatcher, call),), headers={CARRIER_HEADER: carrier})
    parent.end()
    worker = [s for s in exporter.get_finished_spans() if s.name == f"lark.event {TRACED}"][-1]
    assert worker.parent is not None
    assert worker.parent.span_id == parent.get_span_context().span_id


class _Carries(Observer):
    def __init__(self, key: str, log: list[str]) -> None:
        self.key = key
        self.log = log

    def carrier(self, token: object) -> dict[str, str]:
        return {self.key: str(token)}

    @contextlib.contextmanager
    def _resumed(self, carrier: Mapping[str, str]) -> Iterator[None]:
        self.log.append(f"enter {self.key}={carrier.get(self.key)}")
        yield
        self.log.append(f"exit {self.key}")

    def resume(self, carrier: Mapping[str, str]) -> contextlib.AbstractContextManager[object]:
        return self._resumed(carrier)


class _Broken(Observer):
    def carrier(self, token: object) -> dict[str, str]:
        raise RuntimeError("broken carrier")

    def resume(self, carrier: Mapping[str, str]) -> contextlib.AbstractContextManager[object]:
        raise RuntimeError("broken resume")


def test_observers_merge_their_carriers_and_resume_each_skipping_a_broken_one() -> None:
    log: list[str] = []
    both = Observers([_Carries("a", log), _Broken(), _Carries("b", log)])
    carrier = both.carrier(("t1", "t2", "t3"))
    assert carrier == {"a": "t1", "b": "t3"}
    with both.resume(carrier):
        log.append("body")
    assert log == ["enter a=t1", "enter b=t3", "body", "exit b", "exit a"]
    plain = Observer()
    assert plain.carrier(object()) == {}
    with plain.resume({"traceparent": "x"}):
        pass


def test_the_worker_finishes_its_event_so_its_metrics_count_the_job() -> None:
    pytest.importorskip("prometheus_client", reason="the metrics extra is not installed")
    from prometheus_client import CollectorRegistry

    from lark_events_core import HandlerCall
    from lark_events_core.contrib.celery import encode
    from lark_events_core.metrics import PrometheusObserver

    registry = CollectorRegistry()
    app = celery_app_for("memory://", "unused")
    dispatcher = dispatcher_for(app)
    dispatcher.add_observer(PrometheusObserver(registry))
    executor = dispatcher.executor
    assert isinstance(executor, CeleryExecutor)
    executor.retry_backoff = 0.0
    for event_type, event_id in ((TRACED, "ev-worker-ok"), (FAILS_ONCE, "ev-worker-retried")):
        call = dispatcher.prepare(event_request(event_type, event_id))
        assert isinstance(call, HandlerCall)
        assert executor.task.apply(args=(encode(dispatcher, call),)).successful()

    def finished(result: str) -> float | None:
        name = "lark_events_background_jobs_finished_total"
        return registry.get_sample_value(name, {"result": result})

    assert finished("done") == 2  # the retry in between is not a finished job
    assert finished("failed") is None
