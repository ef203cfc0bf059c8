"""Sync and async handlers under both entry points, through one code path."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

from lark_events_core import Event, Request, Response
from lark_events_core.testing import make_event
from tests.core.helpers import MESSAGE_TYPE, TOKEN, body_of, dispatcher, run, signed, text_message


def test_sync_handler_under_handle() -> None:
    d = dispatcher()
    seen: list[str | None] = []
    d.on(MESSAGE_TYPE, lambda e: seen.append(e.event.message.text))
    assert d.handle(signed(text_message("sync"))).status == 200
    assert seen == ["sync"]


def test_async_handler_under_handle() -> None:
    d = dispatcher()
    seen: list[str | None] = []

    @d.on(MESSAGE_TYPE)
    async def handler(event: Event[Any]) -> None:
        await asyncio.sleep(0)
        seen.append(event.event.message.text)

    assert d.handle(signed(text_message("async-in-sync"))).status == 200
    assert seen == ["async-in-sync"]


def test_async_callback_result_under_handle() -> None:
    d = dispatcher()

    @d.on("card.action.trigger")
    async def handler(event: Event[Any]) -> dict[str, str]:
        await asyncio.sleep(0)
        return {"from": "async"}

    response = d.handle(signed(make_event("card.action.trigger", {}, token=TOKEN)))
    assert body_of(response) == {"from": "async"}


def test_async_handler_error_under_handle_is_500() -> None:
    d = dispatcher()

    @d.on(MESSAGE_TYPE)
    async def handler(event: Event[Any]) -> None:
        raise ValueError("nope")

    assert d.handle(signed(text_message())).status == 500


def test_async_handler_under_handle_async() -> None:
    d = dispatcher()
    seen: list[str | None] = []

    @d.on(MESSAGE_TYPE)
    async def handler(event: Event[Any]) -> None:
        seen.append(event.event.message.text)

    assert run(d.handle_async(signed(text_message("a")))).status == 200
    assert seen == ["a"]


def test_sync_handler_under_handle_async_runs_off_the_event_loop_thread() -> None:
    d = dispatcher()
    threads: list[int] = []
    d.on(MESSAGE_TYPE, lambda e: threads.append(threading.get_ident()))

    async def main() -> tuple[Response, int]:
        return await d.handle_async(signed(text_message())), threading.get_ident()

    response, loop_thread = run(main())
    assert response.status == 200
    assert threads
    assert threads[0] != loop_thread


def test_sync_handler_under_handle_async_does_not_block_the_loop() -> None:
    d = dispatcher()
    d.on(MESSAGE_TYPE, lambda e: time.sleep(0.5))

    async def main() -> tuple[Response, int]:
        ticks = 0
        done = asyncio.Event()

        async def ticker() -> None:
            nonlocal ticks
            while not done.is_set():
                ticks += 1
                await asyncio.sleep(0.01)

        task = asyncio.create_task(ticker())
        response = await d.handle_async(signed(text_message()))
        done.set()
        await task
        return response, ticks

    response, ticks = run(main())
    assert response.status == 200
    # A blocked loop ticks at most twice (before and after the handler); a free one ticks about
    # 50 times in 0.5 s. The bound is low so that a loaded machine cannot make it flaky.
    assert ticks >= 6


def test_sync_handler_error_under_handle_async_is_500() -> None:
    d = dispatcher()

    def boom(event: Any) -> None:
        raise KeyError("x")

    d.on(MESSAGE_TYPE, boom)
    response = run(d.handle_async(signed(text_message())))
    assert (response.status, body_of(response)) == (500, {"msg": "internal error"})


def test_duplicates_are_skipped_under_handle_async() -> None:
    d = dispatcher()
    seen: list[Any] = []
    d.on(MESSAGE_TYPE, seen.append)
    event = text_message(event_id="async-dup")

    async def main() -> list[int]:
        return [(await d.handle_async(signed(event))).status for _ in range(3)]

    assert run(main()) == [200, 200, 200]
    assert len(seen) == 1


def test_callable_objects_and_partials_are_handlers() -> None:
    import functools

    d = dispatcher()
    seen: list[str] = []

    class AsyncHandler:
        async def __call__(self, event: Event[Any]) -> None:
            seen.append("object")

    def tagged(tag: str, event: Event[Any]) -> None:
        seen.append(tag)

    d.on(MESSAGE_TYPE, AsyncHandler())
    d.on("x.partial", functools.partial(tagged, "partial"))
    d.handle(signed(text_message()))
    d.handle(signed(make_event("x.partial", {}, token=TOKEN)))
    assert seen == ["object", "partial"]


def test_prepare_then_run_is_the_same_as_handle() -> None:
    from lark_events_core import HandlerCall

    d = dispatcher()
    d.on(MESSAGE_TYPE, lambda e: None)
    step = d.prepare(signed(text_message()))
    assert isinstance(step, HandlerCall)
    assert step.event.type == MESSAGE_TYPE
    assert d.run(step).status == 200
    rejected = d.prepare(Request.build("GET", {}, b""))
    assert isinstance(rejected, Response)
    assert rejected.status == 405


def test_register_without_decorator_and_event_types() -> None:
    d = dispatcher()
    d.register("custom.type", lambda e: None)
    assert "custom.type" in d.event_types
    assert d.handler_for("custom.type") is not None
    assert d.handler_for("other") is None
