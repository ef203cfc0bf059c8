"""``within``: a timeout that never swallows the caller's cancellation, on every Python."""

from __future__ import annotations

import asyncio

import pytest

from lark_events_core.longconn._aio import within


def test_returns_the_result_in_time() -> None:
    async def scenario() -> int:
        async def answer() -> int:
            await asyncio.sleep(0)
            return 42

        return await within(answer(), 1.0)

    assert asyncio.run(scenario()) == 42


def test_raises_timeout_error_and_cancels_the_operation() -> None:
    async def scenario() -> None:
        cancelled = asyncio.Event()

        async def forever() -> None:
            try:
                await asyncio.Event().wait()
            finally:
                cancelled.set()

        with pytest.raises(asyncio.TimeoutError):
            await within(forever(), 0.05)
        assert cancelled.is_set()

    asyncio.run(scenario())


def test_a_cancellation_that_arrives_as_the_operation_finishes_propagates() -> None:
    # asyncio.wait_for before 3.12 returns the result here and drops the cancellation: a
    # stopped long-connection client then kept running (it did on Python 3.10).
    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        ready: asyncio.Future[int] = loop.create_future()

        async def operation() -> int:
            return await ready

        caller = asyncio.create_task(within(operation(), 10.0))
        for _ in range(3):
            await asyncio.sleep(0)  # the caller is waiting now
        ready.set_result(1)
        caller.cancel()
        with pytest.raises(asyncio.CancelledError):
            await caller

    asyncio.run(scenario())
