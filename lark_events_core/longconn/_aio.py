"""A timeout helper that never swallows a cancellation."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable
from typing import TypeVar

__all__ = ["within"]

T = TypeVar("T")


async def within(awaitable: Awaitable[T], timeout: float) -> T:
    """``await awaitable`` for at most ``timeout`` seconds (:class:`asyncio.TimeoutError`).

    Not ``asyncio.wait_for``: before Python 3.12 it swallows a cancellation that arrives just as
    the awaited operation finishes, which would leave a stopped client's task running.
    """
    if sys.version_info >= (3, 11):
        async with asyncio.timeout(timeout):
            return await awaitable
    return await _within_310(awaitable, timeout)  # pragma: no cover - Python 3.10


async def _within_310(awaitable: Awaitable[T], timeout: float) -> T:
    """Python 3.10 has no ``asyncio.timeout``: run the awaitable in a task and wait for it.

    ``asyncio.wait`` never swallows a cancellation of the caller, whatever state the task is in.
    """
    task = asyncio.ensure_future(awaitable)
    try:
        done, _ = await asyncio.wait({task}, timeout=timeout)
    except asyncio.CancelledError:
        task.cancel()
        await asyncio.wait({task})
        if not task.cancelled():
            task.exception()  # retrieved: the caller's cancellation is what propagates
        raise
    if not done:
        task.cancel()
        await asyncio.wait({task})
        if not task.cancelled():
            return task.result()  # it finished as the time ran out
        raise asyncio.TimeoutError
    return task.result()
