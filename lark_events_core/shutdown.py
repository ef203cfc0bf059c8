"""How long a shutdown may wait for background work: the server's graceful window.

gunicorn gives a worker ``graceful_timeout`` seconds (default 30) after SIGTERM, then kills it. A
drain that waits longer is cut off by SIGKILL, and the work it waited for is lost without a word.
So the drain budget is the server's window less what was already spent since SIGTERM and a short
margin, in which every event that still cannot run is logged and handed to ``on_give_up``.

The window is read from the server itself: in a gunicorn worker, the SIGTERM handler is a bound
method of the worker, whose ``cfg.graceful_timeout`` is the setting in force (command line, config
file or ``GUNICORN_CMD_ARGS``). Servers that never kill their workers (uvicorn, aiohttp's runner)
have no window: the budget is the configured timeout, by default :data:`DEFAULT_SHUTDOWN_TIMEOUT`.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable
from types import FrameType
from typing import Any

__all__ = [
    "DEFAULT_SHUTDOWN_TIMEOUT",
    "drain_budget",
    "in_gunicorn_master",
    "server_window",
    "watch_server",
]

#: The drain budget where the server sets none (uvicorn, aiohttp's runner, scripts).
DEFAULT_SHUTDOWN_TIMEOUT = 30.0

_state: dict[str, Any] = {"window": None, "sigterm_at": None, "watched": False}
_lock = threading.Lock()


def _gunicorn_window(handler: object) -> float | None:
    owner = getattr(handler, "__self__", None)
    if owner is None or not type(owner).__module__.startswith("gunicorn."):
        return None
    value = getattr(getattr(owner, "cfg", None), "graceful_timeout", None)
    return float(value) if isinstance(value, int | float) and value >= 0 else None


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
        server_handler: Callable[[int, FrameType | None], Any] = previous

        def noted(signum: int, frame: FrameType | None) -> Any:
            if _state["sigterm_at"] is None:
                _state["sigterm_at"] = time.monotonic()
            return server_handler(signum, frame)

        signal.signal(signal.SIGTERM, noted)
        signal.siginterrupt(signal.SIGTERM, False)  # as gunicorn sets it: requests go on
        server = type(getattr(previous, "__self__", None)).__module__
        _state.update(window=window, watched=True, server=server)


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
