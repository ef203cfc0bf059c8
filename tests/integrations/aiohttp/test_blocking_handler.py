"""An ``async def`` handler that blocks the loop (``time.sleep``) under a real aiohttp server is
named in a warning; one that awaits is not."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from lark_events_aiohttp import setup

from lark_events_core import Dispatcher, Event, blocking
from lark_events_core.testing import LarkSimulator

KEY, TOKEN = "blocking-key", "blocking-token"
Handler = Callable[[Event[Any]], Awaitable[None]]


async def _serve(handler: Handler, deferred: bool = False) -> tuple[int, float]:
    """Send one message event; the status and the longest time the loop did not run a timer."""
    dispatcher = Dispatcher(encrypt_key=KEY, verification_token=TOKEN)
    dispatcher.register("im.message.receive_v1", handler, deferred=deferred)
    app = web.Application()
    setup(app, dispatcher)

    async def ping(request: web.Request) -> web.Response:
        return web.Response(text="pong")

    app.router.add_get("/ping", ping)
    sim = LarkSimulator(KEY, TOKEN)
    gaps: list[float] = []

    async def tick() -> None:
        last = time.perf_counter()
        while True:
            await asyncio.sleep(0.01)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    async with TestClient(TestServer(app)) as client:
        ticker = asyncio.ensure_future(tick())
        response = await sim.post(client, "im.message.receive_v1")
        if deferred:
            await dispatcher.aclose(5)
        assert (await client.get("/ping")).status == 200
        ticker.cancel()
    return response.status, max(gaps, default=0.0)


def _blocking_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if "blocked the event loop" in r.getMessage()]


def test_an_async_handler_calling_time_sleep_is_named_in_one_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def sleeps_in_async_def(event: Event[Any]) -> None:
        time.sleep(0.3)  # the mistake

    with caplog.at_level(logging.WARNING, logger="lark_events"):
        status, longest_ping = asyncio.run(_serve(sleeps_in_async_def))
        asyncio.run(_serve(sleeps_in_async_def))
    assert status == 200
    assert longest_ping >= 0.3  # it really stalled the loop
    (warning,) = _blocking_warnings(caplog)  # once per handler, not per event
    assert "sleeps_in_async_def blocked the event loop for 0.3" in warning
    assert "asyncio.to_thread" in warning


def test_a_deferred_async_handler_that_blocks_is_named_too(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def deferred_sleeper(event: Event[Any]) -> None:
        await asyncio.sleep(0)
        time.sleep(0.3)

    with caplog.at_level(logging.WARNING, logger="lark_events"):
        asyncio.run(_serve(deferred_sleeper, deferred=True))
    (warning,) = _blocking_warnings(caplog)
    assert "deferred_sleeper blocked the event loop" in warning


def test_an_async_handler_that_awaits_is_not_warned_about(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(blocking, "BLOCKING_WARNING", 0.25)  # far above a step's microseconds

    async def awaits_politely(event: Event[Any]) -> None:
        for _ in range(5):
            await asyncio.sleep(0.1)  # 0.5 s in all, never blocking

    with caplog.at_level(logging.WARNING, logger="lark_events"):
        status, _ = asyncio.run(_serve(awaits_politely))
    assert status == 200
    assert _blocking_warnings(caplog) == []


def test_the_warning_can_be_turned_off(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(blocking, "BLOCKING_WARNING", None)

    async def blocks_unwatched(event: Event[Any]) -> None:
        time.sleep(0.2)

    with caplog.at_level(logging.WARNING, logger="lark_events"):
        asyncio.run(_serve(blocks_unwatched))
    assert _blocking_warnings(caplog) == []


def test_a_busy_handler_is_watched_at_first_then_sampled() -> None:
    async def busy(event: object) -> None:
        return None

    watched = 0
    for _ in range(1000):
        coro = busy(None)
        awaitable = blocking.watch(coro, busy)
        watched += awaitable is not coro
        coro.close()
    assert watched == 100 + (1000 - 100) // 64
