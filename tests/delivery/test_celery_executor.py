"""CeleryExecutor without a worker: task options, the queued message, a broker that is down."""

from __future__ import annotations

import base64
import logging
import time
import uuid

import pytest
from celery import Celery

from lark_events_core import Dispatcher, HandlerCall
from lark_events_core.contrib.celery import CeleryExecutor, decode, encode
from tests.support.servers import free_port

from .helpers import KEY, MESSAGE, event_request

SECRET_TEXT = "secret-message-text"


@pytest.fixture(autouse=True)
def _broker_from_the_test_only(monkeypatch: pytest.MonkeyPatch) -> None:
    # Celery lets CELERY_BROKER_URL override the broker given to Celery(); CI exports it for the
    # real-worker tests; these tests must use the broker they name (memory://, a dead one).
    monkeypatch.delenv("CELERY_BROKER_URL", raising=False)


def make(broker: str = "memory://") -> tuple[Celery, CeleryExecutor, Dispatcher]:
    app = Celery(f"t{uuid.uuid4().hex}", broker=broker)
    executor = CeleryExecutor(app, name=f"lark_events.test_{uuid.uuid4().hex}")
    d = Dispatcher(KEY, defer=True, executor=executor)
    d.register(MESSAGE, lambda e: None)
    return app, executor, d


def prepared(d: Dispatcher, event_id: str = "ev-1") -> HandlerCall:
    step = d.prepare(event_request(event_id=event_id, event={"text": SECRET_TEXT}))
    assert isinstance(step, HandlerCall)
    step.owner = "owner-token"
    return step


def test_task_is_acknowledged_late_and_rejected_when_the_worker_is_lost() -> None:
    _, executor, _ = make()
    assert executor.task.acks_late is True
    assert executor.task.reject_on_worker_lost is True
    assert executor.task.max_retries == 3


def test_the_dispatcher_is_bound_by_the_constructor() -> None:
    _, executor, d = make()
    assert executor.dispatcher is d


def test_message_holds_the_body_encrypted_not_in_clear() -> None:
    _, _, d = make()
    call = prepared(d)
    message = encode(d, call)
    flat = repr(message)
    assert SECRET_TEXT not in flat
    assert SECRET_TEXT not in base64.b64decode(message["encrypted"]).decode("latin-1")
    restored = decode(d, message)
    assert restored is not None
    assert restored.event.raw == call.event.raw
    assert restored.owner == "owner-token"
    assert restored.dedup_key == call.dedup_key


def test_message_from_a_dispatcher_without_key_is_base64() -> None:
    d = Dispatcher(verification_token="tok")
    d.register(MESSAGE, lambda e: None)
    from lark_events_core.testing import make_event, sign_event

    body = make_event(MESSAGE, {}, token="tok")
    step = d.prepare(sign_event(body).as_request())
    assert isinstance(step, HandlerCall)
    message = encode(d, step)
    assert "raw" in message
    restored = decode(d, message)
    assert restored is not None
    assert restored.owner is None  # no claim was taken: nothing to settle


def test_worker_with_other_keys_drops_and_logs_without_the_body(
    caplog: pytest.LogCaptureFixture,
) -> None:
    _, _, d = make()
    message = encode(d, prepared(d, "ev-wrong-key"))
    other = Dispatcher("another-key")
    other.register(MESSAGE, lambda e: None)
    with caplog.at_level(logging.ERROR, "lark_events"):
        assert decode(other, message) is None
    assert "event_id=ev-wrong-key" in caplog.text
    assert SECRET_TEXT not in caplog.text


def test_worker_without_the_handler_drops_and_logs(caplog: pytest.LogCaptureFixture) -> None:
    _, _, d = make()
    message = encode(d, prepared(d, "ev-no-handler"))
    other = Dispatcher(KEY)
    with caplog.at_level(logging.ERROR, "lark_events"):
        assert decode(other, message) is None
    assert "no handler" in caplog.text


def test_broker_down_answers_503_quickly_and_releases_the_claim() -> None:
    _, _, d = make(f"amqp://guest:guest@127.0.0.1:{free_port()}//")
    d.executor.app.conf.broker_connection_timeout = 0.5  # type: ignore[union-attr]
    started = time.monotonic()
    response = d.handle(event_request(event_id="ev-broker-down"))
    assert response.status == 503
    assert time.monotonic() - started < 5
    # The claim was released: once the broker is back, the platform's retry is handled.
    assert d.dedup is not None
    assert d.dedup.claim(d.dedup_key(prepared(d, "ev-broker-down").event) or "", "x", 60)


def test_string_dispatcher_path_is_resolved_lazily() -> None:
    app = Celery("t", broker="memory://")
    executor = CeleryExecutor(app, "tests.delivery.test_celery_executor:PATH_TARGET", name="t.x")
    assert executor.dispatcher is PATH_TARGET


PATH_TARGET = Dispatcher(KEY)


def test_failing_handler_is_retried_by_celery_then_given_up_and_released(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = Celery(f"t{uuid.uuid4().hex}", broker="memory://")
    executor = CeleryExecutor(app, name=f"lark_events.t_{uuid.uuid4().hex}", max_retries=2)
    executor.retry_backoff = 0.0
    given_up: list[str | None] = []
    d = Dispatcher(
        KEY, defer=True, executor=executor, on_give_up=lambda e, x: given_up.append(e.event_id)
    )
    attempts: list[int] = []

    def broken(event: object) -> None:
        attempts.append(1)
        raise RuntimeError("always")

    d.register(MESSAGE, broken)
    call = prepared(d, "ev-celery-broken")
    assert d.dedup is not None
    assert d.dedup.claim(call.dedup_key or "", "owner-token", 60)
    with caplog.at_level(logging.WARNING, "lark_events"):
        result = executor.task.apply(args=(encode(d, call),))  # eager: retries run in-process
    assert result.failed()
    assert len(attempts) == 3
    assert given_up == ["ev-celery-broken"]
    assert caplog.text.count("retrying") == 2
    assert SECRET_TEXT not in caplog.text
    # The claim was released, so a re-push is handled.
    assert d.dedup.claim(call.dedup_key or "", "someone-else", 60)


def test_successful_task_completes_the_claim() -> None:
    _, executor, d = make()
    call = prepared(d, "ev-celery-ok")
    assert d.dedup is not None
    assert d.dedup.claim(call.dedup_key or "", "owner-token", 60)
    assert executor.task.apply(args=(encode(d, call),)).successful()
    d.dedup.release(call.dedup_key or "", "owner-token")  # done keys are not released
    assert not d.dedup.claim(call.dedup_key or "", "someone-else", 60)


@pytest.mark.parametrize(
    "message",
    ["not an object", {"v": 99}, {"v": 1, "raw": "%%%"}, {"v": 1, "encrypted": 5}, {"v": 1}],
)
def test_malformed_messages_are_dropped_and_logged(
    message: object, caplog: pytest.LogCaptureFixture
) -> None:
    _, _, d = make()
    with caplog.at_level(logging.ERROR, "lark_events"):
        assert decode(d, message) is None
    assert "dropped" in caplog.text
