"""Handlers run so that Django closes every database connection they open.

Django closes a request's connections (``close_old_connections`` on ``request_started`` and
``request_finished``) in the thread that served the request, and only there. The core, left alone,
also runs handlers elsewhere: a sync handler under an async view in the default thread pool, an
async handler under a sync view on a long-lived background loop, a callback in its deadline pool,
a deferred handler in a background executor. Connections opened there would never be closed.
So the views hand the core adapted handlers:

- sync view (WSGI): a sync handler runs as it is in the request thread (inside the request's
  ``ATOMIC_REQUESTS`` transaction, if any); anywhere else (callback pool, background executor) it
  runs between two ``close_old_connections()`` calls, as Django's own request cycle would do.
  An async handler runs under ``async_to_sync``, which sends its ``sync_to_async`` ORM calls back
  to the calling thread, and is then treated like a sync handler.
- async view (ASGI): a sync handler runs in a worker thread (``sync_to_async``), between two
  ``close_old_connections()`` calls. An async handler that runs inline is awaited as it is: its
  ``sync_to_async`` ORM calls run in the request's thread, which Django cleans up. A deferred
  handler or a callback (which may finish after the answer) is run from a worker thread through
  ``async_to_sync``: still on the event loop, but its ORM calls go to that thread, which closes
  its connections when the handler returns.

For threads you start yourself, wrap the work in :func:`closing_old_connections`.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any, TypeVar

import msgspec
from asgiref.sync import async_to_sync, sync_to_async
from django.db import close_old_connections

from lark_events_core import Handler, HandlerCall

__all__ = ["RequestThread", "closing_old_connections", "for_async_view", "for_sync_view"]

R = TypeVar("R")


class _Local(threading.local):
    in_request = False  # the default of every thread: no getattr(..., default) per call


_local = _Local()
_cache_lock = threading.Lock()
# id(handler) -> (handler, adapted): the handler is kept, so its id cannot be reused meanwhile.
_sync_cache: dict[int, tuple[Handler, Handler]] = {}
_async_cache: dict[int, tuple[Handler, Handler]] = {}
_MAX_CACHED = 4096


class RequestThread:
    """Marks the current thread as serving a Django request while a sync view runs the core."""

    __slots__ = ("_previous",)

    def __enter__(self) -> None:
        self._previous = _local.in_request
        _local.in_request = True

    def __exit__(self, *exc: object) -> None:
        _local.in_request = self._previous


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


def _outside_requests_closing(fn: Callable[[Any], R]) -> Callable[[Any], R]:
    closing = closing_old_connections(fn)

    @functools.wraps(fn)
    def wrapper(event: Any) -> R:
        if _local.in_request:
            return fn(event)  # Django's request cycle closes this thread's connections
        return closing(event)

    return wrapper


def _adapted(
    cache: dict[int, tuple[Handler, Handler]], handler: Handler, make: Callable[[Handler], Handler]
) -> Handler:
    found = cache.get(id(handler))
    if found is not None and found[0] is handler:
        return found[1]
    adapted = make(handler)
    with _cache_lock:
        if len(cache) >= _MAX_CACHED:  # handlers come from dispatchers; bounded all the same
            cache.clear()
        cache[id(handler)] = (handler, adapted)
    return adapted


def _for_sync(handler: Handler) -> Handler:
    fn = async_to_sync(handler.fn) if handler.is_async else handler.fn
    return msgspec.structs.replace(handler, fn=_outside_requests_closing(fn), is_async=False)


def _for_async(handler: Handler) -> Handler:
    if not handler.is_async:
        fn = sync_to_async(closing_old_connections(handler.fn), thread_sensitive=False)
        return msgspec.structs.replace(handler, fn=fn, is_async=True)
    if handler.deferred or handler.callback:  # may run after the request is over
        # Still awaited on the server's loop, but from a worker thread that async_to_sync holds:
        # the handler's sync_to_async ORM calls run in that thread, which closes them after.
        worker = closing_old_connections(async_to_sync(handler.fn))
        return msgspec.structs.replace(handler, fn=sync_to_async(worker, thread_sensitive=False))
    return handler


def for_sync_view(call: HandlerCall) -> HandlerCall:
    """``call`` (fresh from ``prepare``) adapted in place for a sync view; run it inside
    ``with RequestThread():``."""
    call.handler = _adapted(_sync_cache, call.handler, _for_sync)
    return call


def for_async_view(call: HandlerCall) -> HandlerCall:
    """``call`` (fresh from ``prepare``) adapted in place for an async view."""
    call.handler = _adapted(_async_cache, call.handler, _for_async)
    return call
