"""A traced dispatcher deferring to Celery, for the web side (the test) and a real worker.

``celery -A tests.observe.celery_traced:celery_app worker`` with ``CELERY_BROKER_URL``,
``LARK_TEST_QUEUE`` and ``LARK_SPANS_FILE`` set: the worker's tracer provider (the global one)
appends each finished span to that file (:mod:`tests.observe.spans_file`).
"""

from __future__ import annotations

import os
from typing import Any

from celery import Celery
from opentelemetry import trace

from lark_events_core import Dispatcher, Event
from lark_events_core.contrib.celery import CeleryExecutor
from lark_events_core.tracing import TracingObserver

from .mix import KEY, TOKEN
from .spans_file import install_from_env

#: Handled by the worker inside a span of the handler's own.
TRACED = "im.message.receive_v1"
#: Fails on its first attempt in this worker, succeeds when Celery retries it.
FAILS_ONCE = "contact.user.created_v3"

_failed_once: set[str | None] = set()


def traced(event: Event[Any]) -> None:
    with trace.get_tracer("tests.observe").start_as_current_span("user work"):
        pass


def fails_once(event: Event[Any]) -> None:
    if event.event_id not in _failed_once:
        _failed_once.add(event.event_id)
        raise RuntimeError("first attempt fails")


def celery_app_for(broker: str | None, queue: str) -> Celery:
    """The Celery app, the same on both sides."""
    app = Celery("lark_events_traced_tests", broker=broker)
    app.conf.update(
        task_default_queue=queue,
        worker_prefetch_multiplier=1,
        broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=False,
    )
    return app


def dispatcher_for(app: Celery, provider: trace.TracerProvider | None = None) -> Dispatcher:
    """A deferring dispatcher that traces with ``provider`` (default: the global one)."""
    executor = CeleryExecutor(app, retry_backoff=0.1, max_retries=1)
    dispatcher = Dispatcher(
        KEY,
        TOKEN,
        defer=True,
        dedup=False,  # the test sends each event once; no shared store needed
        executor=executor,
        observers=[TracingObserver(provider)],
    )
    dispatcher.on(TRACED, traced)
    dispatcher.on(FAILS_ONCE, fails_once)
    return dispatcher


if install_from_env():  # the worker
    celery_app = celery_app_for(os.environ["CELERY_BROKER_URL"], os.environ["LARK_TEST_QUEUE"])
    dispatcher = dispatcher_for(celery_app)
