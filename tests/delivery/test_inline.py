"""Inline handlers: deduplication around the handler, store-error policies, slow-handler warning."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

import pytest

from lark_events_core import Dispatcher, Event, MemoryDedupStore, Request, Response
from lark_events_core.testing import make_event, sign_event

from .helpers import CARD, KEY, MESSAGE, dispatcher, event_request

Mode = Callable[[Dispatcher, Request], Response]


def sync_mode(d: Dispatcher, request: Request) -> Response:
    return d.handle(request)


def async_mode(d: Dispatcher, request: Request) -> Response:
    return asyncio.run(d.handle_async(request))


modes = pytest.mark.parametrize("send", [sync_mode, async_mode], ids=["sync", "async"])


class BrokenStore:
    """A store whose backend is down: every call raises."""

    def __init__(self) -> None:
        self.calls = 0

    def claim(self, key: str, owner: str, ttl: float) -> bool:
        self.calls += 1
        raise ConnectionError("backend down")

    def complete(self, key: str, owner: str, ttl: float) -> None:
        raise ConnectionError("backend down")

    def release(self, key: str, owner: str) -> None:
        raise ConnectionError("backend down")


@modes
def test_duplicate_is_answered_200_without_calling_the_handler(send: Mode) -> None:
    d = dispatcher()
    calls: list[str | None] = []
    d.register(MESSAGE, lambda e: calls.append(e.event_id))
    request = event_request(event_id="ev-dup")
    assert send(d, request).status == 200
    assert send(d, event_request(event_id="ev-dup")).status == 200
    assert calls == ["ev-dup"]


@modes
def test_failed_handler_releases_the_claim_so_the_retry_runs(send: Mode) -> None:
    d = dispatcher()
    calls: list[int] = []

    def flaky(event: Event[Any]) -> None:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("first attempt fails")

    d.register(MESSAGE, flaky)
    assert send(d, event_request(event_id="ev-retry")).status == 500
    assert send(d, event_request(event_id="ev-retry")).status == 200
    assert send(d, event_request(event_id="ev-retry")).status == 200
    assert len(calls) == 2


@modes
def test_async_handler_is_deduplicated_too(send: Mode) -> None:
    d = dispatcher()
    calls: list[str | None] = []

    async def handler(event: Event[Any]) -> None:
        calls.append(event.event_id)

    d.register(MESSAGE, handler)
    for _ in range(3):
        assert send(d, event_request(event_id="ev-async")).status == 200
    assert calls == ["ev-async"]


@modes
def test_store_down_default_policy_processes_and_logs(
    send: Mode, caplog: pytest.LogCaptureFixture
) -> None:
    store = BrokenStore()
    d = dispatcher(dedup=store)
    calls: list[int] = []
    d.register(MESSAGE, lambda e: calls.append(1))
    with caplog.at_level(logging.ERROR, "lark_events"):
        response = send(d, event_request(event_id="ev-down"))
    assert response.status == 200
    assert calls == [1]
    assert store.calls == 1
    assert "deduplication store failed to claim (event_id=ev-down)" in caplog.text


@modes
def test_store_down_retry_policy_answers_503_without_calling_the_handler(send: Mode) -> None:
    d = dispatcher(dedup=BrokenStore(), on_store_error="retry")
    calls: list[int] = []
    d.register(MESSAGE, lambda e: calls.append(1))
    response = send(d, event_request())
    assert response.status == 503
    assert response.json_body() == {"msg": "deduplication store unavailable, retry later"}
    assert calls == []


@modes
def test_callbacks_are_not_deduplicated_by_default(send: Mode) -> None:
    d = dispatcher()
    clicks: list[int] = []
    d.register(CARD, lambda e: clicks.append(1))
    body = make_event(CARD, {}, event_id="same-click-id")
    for _ in range(2):
        assert send(d, sign_event(body, encrypt_key=KEY).as_request()).status == 200
    assert clicks == [1, 1]


@modes
def test_callbacks_deduplicated_when_asked(send: Mode) -> None:
    d = dispatcher(dedup_callbacks=True)
    clicks: list[int] = []
    d.register(CARD, lambda e: clicks.append(1))
    body = make_event(CARD, {}, event_id="same-click-id")
    for _ in range(2):
        assert send(d, sign_event(body, encrypt_key=KEY).as_request()).status == 200
    assert clicks == [1]


def test_messages_keyed_by_message_id_when_asked() -> None:
    d = dispatcher(dedup_by_message_id=True)
    calls: list[str | None] = []
    d.register(MESSAGE, lambda e: calls.append(e.event_id))
    message = {"message": {"message_id": "om_1", "chat_id": "oc_1"}}
    d.handle(event_request(event_id="ev-a", event=message))
    d.handle(event_request(event_id="ev-b", event=message))  # a new event_id, the same message
    assert calls == ["ev-a"]


def test_dedup_false_turns_deduplication_off() -> None:
    d = dispatcher(dedup=False)
    calls: list[int] = []
    d.register(MESSAGE, lambda e: calls.append(1))
    d.handle(event_request(event_id="x"))
    d.handle(event_request(event_id="x"))
    assert calls == [1, 1]


def test_keys_are_separated_by_app() -> None:
    store = MemoryDedupStore()
    d = dispatcher(dedup=store)
    calls: list[str] = []
    d.register(MESSAGE, lambda e: calls.append(e.app_id or ""))
    for app in ("cli_a", "cli_b"):
        body = make_event(MESSAGE, {}, event_id="same", app_id=app)
        d.handle(sign_event(body, encrypt_key=KEY).as_request())
    assert calls == ["cli_a", "cli_b"]


@modes
def test_slow_inline_handler_logs_a_warning_with_type_and_id(
    send: Mode, caplog: pytest.LogCaptureFixture
) -> None:
    d = dispatcher(slow_handler_warning=0.05)
    d.register(MESSAGE, lambda e: time.sleep(0.1))
    with caplog.at_level(logging.WARNING, "lark_events"):
        send(d, event_request(event_id="ev-slow"))
    slow = [r for r in caplog.records if "over the platform's" in r.getMessage()]
    assert len(slow) == 1
    assert "im.message.receive_v1" in slow[0].getMessage()
    assert "event_id=ev-slow" in slow[0].getMessage()


def test_fast_handler_logs_no_slowness_warning(caplog: pytest.LogCaptureFixture) -> None:
    d = dispatcher(slow_handler_warning=1.0)
    d.register(MESSAGE, lambda e: None)
    with caplog.at_level(logging.WARNING, "lark_events"):
        d.handle(event_request())
    assert "over the platform's" not in caplog.text


def test_callbacks_cannot_be_deferred() -> None:
    from lark_events_core import ConfigurationError

    d = dispatcher()
    with pytest.raises(ConfigurationError):
        d.register(CARD, lambda e: None, deferred=True)
    # defer=True on the dispatcher defers events only; callbacks still answer inline.
    d2 = dispatcher(defer=True)
    assert not d2.register(CARD, lambda e: None).deferred
    assert d2.register(MESSAGE, lambda e: None).deferred


@modes
def test_a_duplicate_arriving_while_the_handler_runs_is_answered_without_it(send: Mode) -> None:
    d = dispatcher()
    calls: list[int] = []
    answers: list[Response] = []

    def handler(event: Event[Any]) -> None:
        calls.append(1)
        if len(calls) == 1:  # the platform re-pushes while the first delivery is handled
            answers.append(d.handle(event_request(event_id="ev-during")))

    d.register(MESSAGE, handler)
    assert send(d, event_request(event_id="ev-during")).status == 200
    assert [a.status for a in answers] == [200]
    assert calls == [1]
    assert send(d, event_request(event_id="ev-during")).status == 200  # done after success
    assert calls == [1]


def test_an_inline_claim_on_the_memory_store_builds_no_owner_token() -> None:
    d = dispatcher()
    d.register(MESSAGE, lambda e: None)
    step = d.prepare(event_request(event_id="ev-token"))
    assert not isinstance(step, Response)
    assert d.claims.claim(step) is None
    assert isinstance(step.owner, float)  # hold()'s token, made for this claim
    assert step.dedup_key is not None
    assert d.dedup.hold(step.dedup_key, 60) is None  # type: ignore[union-attr]
    d.claims.settle(step, ok=True)
    assert d.handle(event_request(event_id="ev-token")).status == 200
    assert isinstance(d.dedup, MemoryDedupStore)
    assert step.dedup_key is not None
    assert not d.dedup.claim(step.dedup_key, "other", 60)


def test_a_deferred_claim_keeps_an_owner_a_copy_of_the_call_can_settle() -> None:
    # CeleryExecutor settles from a copy of the owner token made in another process: a deferred
    # call's claim takes an owner compared by value.
    d = dispatcher()
    d.register(MESSAGE, lambda e: None, deferred=True)
    step = d.prepare(event_request(event_id="ev-copy"))
    assert not isinstance(step, Response)
    assert d.claims.claim(step) is None
    assert step.owner is not None
    assert step.owner != step.dedup_key
    copy = d.prepare(event_request(event_id="ev-copy"))
    assert not isinstance(copy, Response)
    copy.owner = "".join([step.owner[:1], step.owner[1:]])  # equal, not the same object
    d.claims.settle(copy, ok=False)  # released: the retry is handled
    assert d.claims.claim(copy) is None


def _broken(*args: Any) -> Any:
    raise OSError("store broken")


@modes
def test_the_memory_store_failing_to_hold_takes_the_store_error_policy(
    send: Mode, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # The dispatcher holds claims on the in-memory store itself: its errors take the same policy.
    monkeypatch.setattr(MemoryDedupStore, "hold", _broken)
    d = dispatcher()
    calls: list[int] = []
    d.register(MESSAGE, lambda e: calls.append(1))
    with caplog.at_level(logging.ERROR, "lark_events"):
        assert send(d, event_request(event_id="ev-hold")).status == 200
    assert calls == [1]
    assert "deduplication store failed to claim (event_id=ev-hold)" in caplog.text
    retry = dispatcher(on_store_error="retry")
    retry.register(MESSAGE, lambda e: calls.append(2))
    assert send(retry, event_request(event_id="ev-hold")).status == 503
    assert calls == [1]


@modes
def test_the_memory_store_failing_to_finish_is_logged_and_answered_200(
    send: Mode, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(MemoryDedupStore, "finish", _broken)
    d = dispatcher()
    calls: list[int] = []
    d.register(MESSAGE, lambda e: calls.append(1))
    with caplog.at_level(logging.ERROR, "lark_events"):
        assert send(d, event_request(event_id="ev-finish")).status == 200
    assert calls == [1]
    assert "deduplication store failed to complete (event_id=ev-finish)" in caplog.text


@modes
def test_an_event_handled_on_the_memory_store_is_done_for_every_later_claim(send: Mode) -> None:
    d = dispatcher()
    calls: list[str | None] = []
    d.register(MESSAGE, lambda e: calls.append(e.event_id))
    assert send(d, event_request(event_id="ev-done")).status == 200
    step = d.prepare(event_request(event_id="ev-done"))
    assert not isinstance(step, Response)
    assert step.dedup_key is not None
    store = d.dedup
    assert isinstance(store, MemoryDedupStore)
    assert store.hold(step.dedup_key, 60) is None  # done, not merely claimed: nobody takes it
    assert not store.claim(step.dedup_key, "another-process", 60)
    assert calls == ["ev-done"]


@modes
def test_a_memory_store_subclass_is_called_through_its_own_methods(send: Mode) -> None:
    class Counting(MemoryDedupStore):
        """Counts the claims made through claim() and complete()."""

        claims = 0
        completes = 0

        def claim(self, key: str, owner: str, ttl: float) -> bool:
            Counting.claims += 1
            return super().claim(key, owner, ttl)

        def complete(self, key: str, owner: str, ttl: float) -> None:
            Counting.completes += 1
            super().complete(key, owner, ttl)

    d = dispatcher(dedup=Counting())
    calls: list[int] = []
    d.register(MESSAGE, lambda e: calls.append(1))
    assert send(d, event_request(event_id="ev-sub")).status == 200
    assert send(d, event_request(event_id="ev-sub")).status == 200
    assert calls == [1]
    assert (Counting.claims, Counting.completes) == (2, 1)
