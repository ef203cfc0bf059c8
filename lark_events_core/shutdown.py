"""How long a shutdown may wait for background work: the server's graceful window.

gunicorn gives a worker ``graceful_timeout`` seconds (default 30) after SIGTERM, then kills it. A
drain that waits longer is cut off by SIGKILL, and the work it waited for is lost without a word.
So the drain budget is the server's window less what was already spent since SIGTERM and a short
margin, in which every event that still cannot run is logged and handed to ``on_give_up``.

The window is read from the server itself: in a gunicorn worker, the SIGTERM handler is a bound
method of the worker, whose ``cfg.graceful_timeout`` is the setting in force (command line, config
file or ``GUNICORN_CMD_ARGS``). In gunicorn's aiohttp worker it is the event loop's handler
(:func:`watch_loop`); in uvicorn's gunicorn worker it is uvicorn's ``Server``, whose config
notifies the worker. Servers that never kill their workers (uvicorn, aiohttp's runner)
have no window: the budget is the configured timeout, by default :data:`DEFAULT_SHUTDOWN_TIMEOUT`.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import asyncio

__all__ = [
    "DEFAULT_SHUTDOWN_TIMEOUT",
    "drain_budget",
    "in_gunicorn_master",
    "server_window",
    "watch_loop",
    "watch_server",
]

#: The drain budget where the server sets none (uvicorn, aiohttp's runner, scripts).
DEFAULT_SHUTDOWN_TIMEOUT = 30.0

_state: dict[str, Any] = {"window": None, "sigterm_at": None, "watched": False}
_lock = threading.Lock()


def _is_gunicorn_worker(owner: object) -> bool:
    # A gunicorn worker or a subclass of one (aiohttp's GunicornWebWorker lives in aiohttp.worker).
    return owner is not None and any(
        c.__module__.startswith("gunicorn.") for c in type(owner).__mro__
    )


def _gunicorn_window(handler: object) -> float | None:
    owner = getattr(handler, "__self__", None)
    if not _is_gunicorn_worker(owner):
        # uvicorn's Server, run by gunicorn's UvicornWorker: the worker is the one its config
        # notifies (``callback_notify``, the worker's bound method); plain uvicorn sets none.
        notify = getattr(getattr(owner, "config", None), "callback_notify", None)
        owner = getattr(notify, "__self__", None)
        if not _is_gunicorn_worker(owner):
            return None
    value = getattr(getattr(owner, "cfg", None), "graceful_timeout", None)
    return float(value) if isinstance(value, int | float) and value >= 0 else None


def _noting_sigterm(server_handler: Callable[..., Any]) -> Callable[..., Any]:
    """``server_handler``, called after the time of the first SIGTERM is noted."""

    def noted(*given: Any) -> Any:
        if _state["sigterm_at"] is None:
            _state["sigterm_at"] = time.monotonic()
        return server_handler(*given)

    return noted


def _watching(window: float, server_handler: object) -> None:
    # Called under _lock once the server's handler is wrapped: the window and whose it is.
    server = type(getattr(server_handler, "__self__", None)).__module__
    _state.update(window=window, watched=True, server=server)


def watch_server() -> None:
    """Note the server's graceful window and, from now on, when SIGTERM arrives.

    Call it from the main thread once the server has installed its signal handlers (a gunicorn
    worker imports the app after that); elsewhere it does nothing. The server's handler still
    runs, unchanged, after the time is noted.
    """
    if threading.current_thread() is not threading.main_thread():
        return
    with _lock:
        if _state["watched"]:
            return
        previous = signal.getsignal(signal.SIGTERM)
        window = _gunicorn_window(previous)
        if window is None or not callable(previous):
            return
        signal.signal(signal.SIGTERM, _noting_sigterm(previous))
        signal.siginterrupt(signal.SIGTERM, False)  # as gunicorn sets it: requests go on
        _watching(window, previous)


def watch_loop(loop: asyncio.AbstractEventLoop | None = None) -> None:
    """:func:`watch_server` where the server's SIGTERM handler is the event loop's.

    gunicorn's aiohttp worker (``-k aiohttp.GunicornWebWorker``) handles SIGTERM through
    ``loop.add_signal_handler``, so :func:`watch_server` sees only asyncio's placeholder. Call this
    from a coroutine on that loop (aiohttp's ``on_startup``): when the loop's SIGTERM callback is a
    gunicorn worker's, its window is noted and the loop's handler is replaced by one that notes
    the time, then calls the worker's. asyncio's Unix loops keep their handlers in a private
    ``_signal_handlers`` dict; a loop without it (uvloop) leaves the window unknown, as before.
    """
    if loop is None:
        import asyncio  # here: WSGI servers import this module too, and never need asyncio

        loop = asyncio.get_running_loop()
    with _lock:
        if _state["watched"]:
            return
        handlers = getattr(loop, "_signal_handlers", None)
        handle = handlers.get(signal.SIGTERM) if isinstance(handlers, dict) else None
        callback = getattr(handle, "_callback", None)
        window = _gunicorn_window(callback)
        if window is None or not callable(callback):
            return
        args = tuple(getattr(handle, "_args", ()) or ())
        # Replaces the worker's handler, called as it was.
        loop.add_signal_handler(signal.SIGTERM, _noting_sigterm(callback), *args)
        _watching(window, callback)


def in_gunicorn_master() -> bool:
    """Whether this is a gunicorn master (``--preload``): it forks workers and serves nothing."""
    module = _state.get("server")
    if module is None:
        owner = getattr(signal.getsignal(signal.SIGTERM), "__self__", None)
        module = None if owner is None else type(owner).__module__
    return module == "gunicorn.arbiter"


def server_window() -> float | None:
    """The graceful window of the server running this process, if it has one (gunicorn)."""
    window = _state["window"]
    if window is None:
        window = _gunicorn_window(signal.getsignal(signal.SIGTERM))
    return None if window is None else float(window)


def drain_budget(configured: float | None = None) -> float:
    """Seconds a drain may wait now: ``configured`` (default 30), never past the server's window.

    Inside a window, the budget is what is left of it after the time since SIGTERM and a margin
    (a fifth of the window, at most 1 s) kept for reporting the events that could not run.
    """
    window = server_window()
    if window is None:
        return DEFAULT_SHUTDOWN_TIMEOUT if configured is None else max(0.0, configured)
    started = _state["sigterm_at"]
    spent = 0.0 if started is None else time.monotonic() - started
    left = max(0.0, window - spent - min(1.0, window / 5))
    return left if configured is None else max(0.0, min(configured, left))


def _forget_after_fork() -> None:
    # A forked child has its own signal handlers to come (a gunicorn worker installs them).
    _state.update(window=None, sigterm_at=None, watched=False, server=None)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_after_fork)
