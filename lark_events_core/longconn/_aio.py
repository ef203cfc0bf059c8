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
    return await asyncio.wait_for(awaitable, timeout)  # pragma: no cover - Python 3.10
