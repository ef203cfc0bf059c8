"""Applications the delivery end-to-end tests run in real server and worker processes.

Configured through the environment (each test uses its own values):

- ``REDIS_URL`` — where the dedup store lives and where handler runs are recorded;
- ``LARK_TEST_PREFIX`` — the test's Redis key prefix (store keys and ``{prefix}runs``);
- ``LARK_TEST_DEDUP_URL`` — the dedup store's Redis (default ``REDIS_URL``; the fault test points
  it at a throwaway server it kills);
- ``LARK_TEST_POLICY`` — ``on_store_error``; ``LARK_TEST_BEHAVIOUR`` — what the handler does;
- ``LARK_TEST_DEFER=1`` — ``wsgi_app`` defers its handler to the built-in thread pool;
- ``CELERY_BROKER_URL`` / ``LARK_TEST_QUEUE`` — Celery broker and queue (Celery apps only).

Served by the core's ``WSGIApp``: ``gunicorn tests.delivery.apps:wsgi_app`` (inline dispatcher) or
``gunicorn tests.delivery.apps:celery_wsgi_app`` / ``celery -A tests.delivery.apps:celery_app
worker`` (deferred to Celery).
"""

from __future__ import annotations

import os
import time
from typing import Any

import redis

from lark_events_core import Dispatcher, Event
from lark_events_core.redis_store import RedisDedupStore
from lark_events_core.wsgi import WSGIApp

KEY = "delivery-test-encrypt-key"
ENV = os.environ
PREFIX = ENV.get("LARK_TEST_PREFIX", "lark-test:unset:")
REDIS_URL = ENV.get("REDIS_URL", "redis://127.0.0.1:6379/0")
_records = redis.Redis.from_url(REDIS_URL)


def record_run(event: Event[Any], outcome: str) -> int:
    """Append ``event_id:outcome:pid`` to ``{prefix}runs``; the number of runs of this event."""
    _records.rpush(PREFIX + "runs", f"{event.event_id}:{outcome}:{os.getpid()}")
    return int(_records.incr(f"{PREFIX}count:{event.event_id}"))


def handler(event: Event[Any]) -> None:
    """Does what ``LARK_TEST_BEHAVIOUR`` says, recording every run in Redis."""
    behaviour = ENV.get("LARK_TEST_BEHAVIOUR", "ok")
    attempt = int(_records.get(f"{PREFIX}count:{event.event_id}") or 0) + 1
    if behaviour == "hang_first" and attempt == 1:
        record_run(event, "started")
        time.sleep(120)  # the test kills this worker meanwhile
    if behaviour == "fail_first" and attempt == 1:
        record_run(event, "failed")
        raise RuntimeError("first attempt fails")
    if behaviour == "slow":
        time.sleep(float(ENV.get("LARK_TEST_SLEEP", "0.3")))
    record_run(event, "ok")


def _dispatcher(**options: Any) -> Dispatcher:
    store = RedisDedupStore(ENV.get("LARK_TEST_DEDUP_URL", REDIS_URL), prefix=PREFIX, timeout=0.3)
    policy = ENV.get("LARK_TEST_POLICY", "process")
    d = Dispatcher(KEY, dedup=store, on_store_error=policy, **options)  # type: ignore[arg-type]
    d.register("im.message.receive_v1", handler)
    return d


def _celery() -> tuple[Any, Dispatcher]:
    from celery import Celery

    from lark_events_core.contrib.celery import CeleryExecutor

    app = Celery("lark_events_delivery_tests", broker=ENV.get("CELERY_BROKER_URL"))
    app.conf.update(
        task_default_queue=ENV.get("LARK_TEST_QUEUE", "lark-test"),
        worker_prefetch_multiplier=1,
        broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=False,
    )
    executor = CeleryExecutor(app, retry_backoff=0.2, max_retries=2)
    return app, _dispatcher(defer=True, executor=executor)


wsgi_app = WSGIApp(_dispatcher(defer=ENV.get("LARK_TEST_DEFER") == "1"))

if ENV.get("CELERY_BROKER_URL") and ENV.get("LARK_TEST_QUEUE"):
    celery_app, celery_dispatcher = _celery()
    celery_wsgi_app = WSGIApp(celery_dispatcher)
