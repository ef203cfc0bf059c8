"""Middleware around every handler call, and the one callable a handler entry becomes.

A middleware is ``fn(event, call_next)``, sync or async: ``call_next()`` runs the rest of the
chain (the next middleware, then the handler) and returns its result; a middleware that returns
without calling it short-circuits, and what it returns is the answer (for callbacks, the body).
In a chain with anything async, ``call_next`` of an async middleware is awaited, and a sync
middleware runs in a worker thread where its ``call_next()`` waits for the rest.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .context import HandlerContext
from .routing import Endpoint, Router

if TYPE_CHECKING:
    from .events.base import Event

__all__ = ["Middleware", "compose"]

#: ``(event) -> context``: how the composed call makes a handler's context.
ContextFactory = Callable[["Event[Any]"], HandlerContext]


@dataclass(frozen=True, slots=True)
class Middleware:
    """A registered middleware."""

    fn: Callable[[Any, Callable[[], Any]], Any]
    is_async: bool


async def _in_thread(fn: Callable[..., Any], *args: Any) -> Any:
    import asyncio
    import contextvars

    loop = asyncio.get_running_loop()
    ctx = contextvars.copy_context()
    return await loop.run_in_executor(None, functools.partial(ctx.run, fn, *args))


def _call(endpoint: Endpoint, event: Any, ctx: HandlerContext) -> Any:
    return endpoint.fn(event, ctx) if endpoint.takes_context else endpoint.fn(event)


async def _acall(endpoint: Endpoint, event: Any, ctx: HandlerContext) -> Any:
    if endpoint.is_async:
        return await _call(endpoint, event, ctx)
    return await _in_thread(_call, endpoint, event, ctx)


def compose(
    target: Endpoint | Router,
    middlewares: Sequence[Middleware],
    make_context: ContextFactory,
    bot_open_id: Callable[[], str | None],
) -> tuple[Callable[[Any], Any], bool]:
    """The one callable ``fn(event)`` a handler entry becomes, and whether it is async.

    A plain one-parameter handler without middleware is returned as it is (no added cost).
    """
    endpoints = target.endpoints() if isinstance(target, Router) else [target]
    is_async = any(e.is_async for e in endpoints) or any(m.is_async for m in middlewares)
    if isinstance(target, Endpoint) and not middlewares and not target.takes_context:
        return target.fn, target.is_async
    mws = tuple(middlewares)

    def select(event: Any, ctx: HandlerContext) -> Endpoint | None:
        if isinstance(target, Endpoint):
            return target
        return target.select(event.data, bot_open_id(), ctx)

    if not is_async:

        def run(event: Any, ctx: HandlerContext, i: int) -> Any:
            if i == len(mws):
                endpoint = select(event, ctx)
                return None if endpoint is None else _call(endpoint, event, ctx)
            return mws[i].fn(event, lambda: run(event, ctx, i + 1))

        def handle(event: Any) -> Any:
            return run(event, make_context(event), 0)

        return handle, False

    async def arun(event: Any, ctx: HandlerContext, i: int) -> Any:
        if i == len(mws):
            endpoint = select(event, ctx)
            return None if endpoint is None else await _acall(endpoint, event, ctx)
        mw = mws[i]
        if mw.is_async:
            return await mw.fn(event, lambda: arun(event, ctx, i + 1))
        import asyncio

        loop = asyncio.get_running_loop()

        def call_next() -> Any:
            return asyncio.run_coroutine_threadsafe(arun(event, ctx, i + 1), loop).result()

        return await _in_thread(mw.fn, event, call_next)

    async def ahandle(event: Any) -> Any:
        return await arun(event, make_context(event), 0)

    return ahandle, True
