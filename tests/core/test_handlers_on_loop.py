"""``blocking=False``: a sync handler known not to block is called on the event loop (no hop)."""

from __future__ import annotations

import asyncio
import contextvars
import logging
import threading
from typing import Any

import pytest

from lark_events_core import Event, Response, Toast
from lark_events_core.testing import make_event
from tests.core.helpers import MESSAGE_TYPE, TOKEN, body_of, dispatcher, run, signed, text_message

VAR: contextvars.ContextVar[str] = contextvars.ContextVar("VAR", default="unset")


def _threads_under_handle_async(**options: Any) -> tuple[Response, int, int]:
    """(response, the handler's thread, the loop's thread) for one request under asyncio."""
    d = dispatcher()
    seen: list[int] = []

    @d.on(MESSAGE_TYPE, **options)
    def handler(event: Event[Any]) -> None:
        seen.append(threading.get_ident())

    async def main() -> tuple[Response, int]:
        return await d.handle_async(signed(text_message())), threading.get_ident()

    response, loop_thread = run(main())
    assert len(seen) == 1
    return response, seen[0], loop_thread


def test_a_blocking_false_sync_handler_runs_on_the_loop_thread() -> None:
    response, handler_thread, loop_thread = _threads_under_handle_async(blocking=False)
    assert response.status == 200
    assert handler_thread == loop_thread


def test_by_default_a_sync_handler_still_runs_in_a_worker_thread() -> None:
    response, handler_thread, loop_thread = _threads_under_handle_async()
    assert response.status == 200
    assert handler_thread != loop_thread


def test_blocking_true_is_the_default_worker_thread() -> None:
    _, handler_thread, loop_thread = _threads_under_handle_async(blocking=True)
    assert handler_thread != loop_thread


def test_on_the_loop_the_handler_sees_the_callers_context() -> None:
    d = dispatcher()
    seen: list[str] = []
    d.on(MESSAGE_TYPE, lambda e: seen.append(VAR.get()), blocking=False)

    async def main() -> Response:
        VAR.set("from the request")
        return await d.handle_async(signed(text_message()))

    assert run(main()).status == 200
    assert seen == ["from the request"]


def test_a_blocking_false_callback_answers_with_its_result() -> None:
    d = dispatcher()
    threads: list[int] = []

    @d.on("card.action.trigger", blocking=False)
    def on_click(event: Event[Any]) -> Toast:
        threads.append(threading.get_ident())
        return Toast("done", type="success")

    async def main() -> tuple[Response, int]:
        request = signed(make_event("card.action.trigger", {}, token=TOKEN))
        return await d.handle_async(request), threading.get_ident()

    response, loop_thread = run(main())
    assert body_of(response) == {"toast": {"type": "success", "content": "done"}}
    assert threads == [loop_thread]


def test_a_blocking_false_handler_that_raises_is_answered_500() -> None:
    d = dispatcher()

    @d.on(MESSAGE_TYPE, blocking=False)
    def broken(event: Event[Any]) -> None:
        raise ValueError("nope")

    assert run(d.handle_async(signed(text_message()))).status == 500


def test_blocking_false_under_the_sync_entry_point_is_a_plain_call() -> None:
    d = dispatcher()
    threads: list[int] = []
    d.on(MESSAGE_TYPE, lambda e: threads.append(threading.get_ident()), blocking=False)
    assert d.handle(signed(text_message())).status == 200
    assert threads == [threading.get_ident()]


def test_a_route_on_the_same_type_makes_its_calls_hop_again() -> None:
    """Routes cannot be flagged: once the type has one, all of its calls run in a thread."""
    d = dispatcher()
    threads: list[int] = []
    d.on(MESSAGE_TYPE, lambda e: threads.append(threading.get_ident()), blocking=False)
    d.message(prefix="/never")(lambda e: None)

    async def main() -> int:
        await d.handle_async(signed(text_message("hello")))
        return threading.get_ident()

    loop_thread = run(main())
    assert len(threads) == 1  # the fallback ran
    assert threads[0] != loop_thread


def test_holding_the_loop_is_named_in_one_warning(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from lark_events_core import blocking, handlers

    ticks = iter(range(0, 1000, 1))  # a clock that advances one second per reading
    monkeypatch.setattr(handlers, "monotonic", lambda: float(next(ticks)))
    monkeypatch.setattr(blocking, "_warned", set())  # named once per type and process
    d = dispatcher(slow_handler_warning=None)
    d.on(MESSAGE_TYPE, lambda e: None, blocking=False)

    async def main() -> None:
        for i in range(2):
            await d.handle_async(signed(text_message(event_id=f"e{i}")))

    with caplog.at_level(logging.WARNING, logger="lark_events"):
        run(main())
    warnings = [r.getMessage() for r in caplog.records if "blocking=False" in r.getMessage()]
    assert len(warnings) == 1
    assert MESSAGE_TYPE in warnings[0]
    assert "held the event loop for 1.00 s" in warnings[0]


def test_a_quick_blocking_false_handler_is_not_named(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from lark_events_core import handlers

    monkeypatch.setattr(handlers, "monotonic", lambda: 5.0)  # no time passes
    d = dispatcher()
    d.on(MESSAGE_TYPE, lambda e: None, blocking=False)
    with caplog.at_level(logging.WARNING, logger="lark_events"):
        assert run(d.handle_async(signed(text_message()))).status == 200
    assert not [r for r in caplog.records if "blocking=False" in r.getMessage()]


def test_an_async_handler_ignores_the_flag() -> None:
    d = dispatcher()
    seen: list[str] = []

    @d.on(MESSAGE_TYPE, blocking=False)
    async def handler(event: Event[Any]) -> None:
        await asyncio.sleep(0)
        seen.append("ran")

    assert run(d.handle_async(signed(text_message()))).status == 200
    assert seen == ["ran"]
