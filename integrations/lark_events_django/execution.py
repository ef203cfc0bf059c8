"""Handlers run the way Django runs views, so Django manages their database connections.

Django closes a request's database connections (``close_old_connections``) in the thread that ran
the request's sync code. The core's own defaults would run a sync handler under an async view in
the default thread pool, and an async handler under a sync view on a long-lived background loop;
ORM connections opened there would never be closed. So, like Django does for views:

- sync view (WSGI): a sync handler is called in the request thread; an async handler runs under
  ``async_to_sync``, which sends its ``sync_to_async`` ORM calls back to the request thread.
- async view (ASGI): an async handler is awaited; a sync handler runs under
  ``sync_to_async(thread_sensitive=True)``, in the request's own thread
  (Django's ``ThreadSensitiveContext``).

For threads you start yourself, wrap the work in :func:`closing_old_connections`.
"""

from __future__ import annotations

import dataclasses
import functools
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from asgiref.sync import async_to_sync, sync_to_async
from django.db import close_old_connections

from lark_events_core import Handler, HandlerCall

__all__ = ["closing_old_connections", "for_async_view", "for_sync_view"]

R = TypeVar("R")

_cache_lock = threading.Lock()
_sync_cache: dict[Handler, Handler] = {}
_async_cache: dict[Handler, Handler] = {}
_MAX_CACHED = 4096


def _adapted(
    cache: dict[Handler, Handler], handler: Handler, make: Callable[[], Handler]
) -> Handler:
    try:
        found = cache.get(handler)
    except TypeError:  # a handler object that is not hashable: adapt it every time
        return make()
    if found is not None:
        return found
    adapted = make()
    with _cache_lock:
        if len(cache) >= _MAX_CACHED:  # handlers come from dispatchers; bounded all the same
            cache.clear()
        cache[handler] = adapted
    return adapted


def for_sync_view(call: HandlerCall) -> HandlerCall:
    """``call`` with an async handler wrapped in ``async_to_sync``; sync handlers unchanged."""
    handler = call.handler
    if not handler.is_async:
        return call
    adapted = _adapted(
        _sync_cache,
        handler,
        lambda: dataclasses.replace(handler, fn=async_to_sync(handler.fn), is_async=False),
    )
    return dataclasses.replace(call, handler=adapted)


def for_async_view(call: HandlerCall) -> HandlerCall:
    """``call`` with a sync handler wrapped in ``sync_to_async(thread_sensitive=True)``."""
    handler = call.handler
    if handler.is_async:
        return call
    adapted = _adapted(
        _async_cache,
        handler,
        lambda: dataclasses.replace(
            handler, fn=sync_to_async(handler.fn, thread_sensitive=True), is_async=True
        ),
    )
    return dataclasses.replace(call, handler=adapted)


def closing_old_connections(fn: Callable[..., R]) -> Callable[..., R]:
    """Wrap work done in a thread Django does not manage: stale connections closed around it.

    This is what Django's request cycle does in its own threads (``request_started`` and
    ``request_finished``); with the default ``CONN_MAX_AGE = 0`` every connection the work opened
    is closed when it returns. Never use it inside a request or an ``atomic`` block.
    """

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> R:
        close_old_connections()
        try:
            return fn(*args, **kwargs)
        finally:
            close_old_connections()

    return wrapper
