"""The callback deadline guard: a slow callback is answered with the fallback, then finishes."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from typing import Any

import pytest

from lark_events_core import ConfigurationError, Event, Toast

from .helpers import CARD, dispatcher, event_request

FALLBACK = {"toast": {"type": "info", "content": "working on it"}}


def test_slow_callback_gets_the_fallback_in_time_and_still_finishes() -> None:
    d = dispatcher(callback_deadline=0.2, callback_fallback=Toast("working on it"))
    finished = threading.Event()
    release = threading.Event()

    def slow(event: Event[Any]) -> Toast:
        # Held until the answer is in: the fallback can only have come from the deadline,
        # however slow the machine (no upper bound on time to flake on).
        release.wait(10)
        finished.set()
        return Toast("done")

    d.register(CARD, slow)
    started = time.monotonic()
    response = d.handle(event_request(CARD))
    elapsed = time.monotonic() - started
    assert response.status == 200
    assert response.json_body() == FALLBACK
    assert elapsed >= 0.2  # it waited for the deadline before answering
    assert not finished.is_set()
    release.set()
    d.close(5)
    assert finished.is_set()


def test_fast_callback_answers_with_its_own_result() -> None:
    d = dispatcher(callback_deadline=0.5, callback_fallback=Toast("working on it"))
    d.register(CARD, lambda e: Toast("done"))
    response = d.handle(event_request(CARD))
    assert response.json_body() == {"toast": {"type": "info", "content": "done"}}


def test_callback_failing_before_the_deadline_is_a_500() -> None:
    d = dispatcher(callback_deadline=0.5)

    def broken(event: Event[Any]) -> None:
        raise RuntimeError("boom")

    d.register(CARD, broken)
    response = d.handle(event_request(CARD))
    assert response.status == 500
    assert b"boom" not in response.body


def test_default_fallback_is_an_empty_object() -> None:
    d = dispatcher(callback_deadline=0.1)
    gate = threading.Event()
    d.register(CARD, lambda e: gate.wait(5))
    assert d.handle(event_request(CARD)).json_body() == {}
    gate.set()
    d.close(5)


def test_late_failure_is_logged_with_the_event_id(caplog: pytest.LogCaptureFixture) -> None:
    d = dispatcher(callback_deadline=0.1)

    def late_boom(event: Event[Any]) -> None:
        time.sleep(0.3)
        raise RuntimeError("late")

    d.register(CARD, late_boom)
    with caplog.at_level(logging.WARNING, "lark_events"):
        d.handle(event_request(CARD, event_id="cb-late"))
        d.close(5)
    assert "answered with the fallback" in caplog.text
    failed = [r for r in caplog.records if "failed after the fallback" in r.getMessage()]
    assert len(failed) == 1
    assert "event_id=cb-late" in failed[0].getMessage()


def test_deadline_none_waits_for_the_handler() -> None:
    d = dispatcher(callback_deadline=None)
    d.register(CARD, lambda e: (time.sleep(0.3), Toast("done"))[1])
    assert d.handle(event_request(CARD)).json_body()["toast"]["content"] == "done"


def test_events_are_not_guarded() -> None:
    d = dispatcher(callback_deadline=0.05)
    d.register("im.message.receive_v1", lambda e: time.sleep(0.2))
    started = time.monotonic()
    assert d.handle(event_request()).status == 200
    assert time.monotonic() - started >= 0.2


def test_async_slow_callback_gets_the_fallback_and_finishes() -> None:
    d = dispatcher(callback_deadline=0.2, callback_fallback=Toast("working on it"))
    finished: list[int] = []

    release: list[asyncio.Event] = []

    async def slow(event: Event[Any]) -> Toast:
        await release[0].wait()  # held until the answer is in (see the sync test)
        finished.append(1)
        return Toast("done")

    d.register(CARD, slow)

    async def main() -> float:
        release.append(asyncio.Event())
        started = time.monotonic()
        response = await asyncio.wait_for(d.handle_async(event_request(CARD)), 10)
        elapsed = time.monotonic() - started
        assert response.json_body() == FALLBACK
        assert finished == []
        release[0].set()
        await d.aclose(5)
        return elapsed

    assert asyncio.run(main()) >= 0.2
    assert finished == [1]


def test_async_sync_callback_in_time_answers_its_result() -> None:
    d = dispatcher(callback_deadline=1.0)
    d.register(CARD, lambda e: {"toast": {"type": "success", "content": "ok"}})

    async def main() -> Any:
        return (await d.handle_async(event_request(CARD))).json_body()

    assert asyncio.run(main()) == {"toast": {"type": "success", "content": "ok"}}


def test_async_callback_does_not_block_the_loop_when_sync_and_slow() -> None:
    d = dispatcher(callback_deadline=0.2)
    d.register(CARD, lambda e: time.sleep(0.5))

    async def main() -> None:
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        tick = asyncio.ensure_future(ticker())
        await d.handle_async(event_request(CARD))
        tick.cancel()
        assert ticks >= 10  # the loop kept running while the handler slept in a thread
        await d.aclose(5)

    asyncio.run(main())


def test_bad_fallback_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError):
        dispatcher(callback_fallback=42)


def test_busy_callback_workers_run_the_callback_rather_than_drop_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    d = dispatcher(callback_deadline=0.1, callback_workers=1)
    gate = threading.Event()
    calls: list[str | None] = []

    def handler(event: Event[Any]) -> dict[str, Any]:
        calls.append(event.event_id)
        if event.event_id == "first":
            gate.wait(5)
        return {"toast": {"type": "info", "content": "ran"}}

    d.register(CARD, handler)
    assert d.handle(event_request(CARD, event_id="first")).json_body() == {}  # fallback
    with caplog.at_level(logging.WARNING, "lark_events"):
        second = d.handle(event_request(CARD, event_id="second"))
    assert second.json_body() == {"toast": {"type": "info", "content": "ran"}}
    assert "event_id=second" in caplog.text
    gate.set()
    d.close(5)
    assert calls == ["first", "second"]
