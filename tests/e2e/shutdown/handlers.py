"""The deferred handler and ``on_give_up`` hook the shutdown tests serve, on every server.

Each handled event appends ``done <event_id> <pid>`` to the file ``LARK_TEST_RECORD``, each event
handed to ``on_give_up`` appends ``gave_up <event_id> <started>``. The handler sleeps
``LARK_TEST_SLEEP`` seconds first. ``LARK_TEST_JOURNAL`` turns the SQLite journal on (lease
``LARK_TEST_LEASE`` seconds); ``LARK_TEST_SHUTDOWN`` sets ``shutdown_timeout``.
"""

from __future__ import annotations

import os
import time
from typing import Any

from lark_events_core import Dispatcher, Event
from lark_events_core.errors import AbandonedAtShutdown
from lark_events_core.journal import SQLiteJournal

KEY = "shutdown-test-encrypt-key"
MESSAGE = "im.message.receive_v1"


def record(line: str) -> None:
    """One line, appended in a single write (O_APPEND keeps lines whole across processes)."""
    fd = os.open(os.environ["LARK_TEST_RECORD"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, (line + "\n").encode())
    finally:
        os.close(fd)


def on_message(event: Event[Any]) -> None:
    """The slow deferred handler."""
    time.sleep(float(os.environ.get("LARK_TEST_SLEEP", "1.0")))
    record(f"done {event.event_id} {os.getpid()}")


def on_give_up(event: Event[Any], error: BaseException) -> None:
    """Persist what could not run, as a user's dead-letter hook would."""
    started = error.started if isinstance(error, AbandonedAtShutdown) else "failed"
    record(f"gave_up {event.event_id} {started}")


def options() -> dict[str, Any]:
    """The Dispatcher options every test server uses."""
    journal = os.environ.get("LARK_TEST_JOURNAL")
    shutdown = os.environ.get("LARK_TEST_SHUTDOWN")
    return {
        "encrypt_key": KEY,
        "defer": True,
        "on_give_up": on_give_up,
        "shutdown_timeout": float(shutdown) if shutdown else None,
        "journal": (
            SQLiteJournal(journal, lease=float(os.environ.get("LARK_TEST_LEASE", "30")))
            if journal
            else None
        ),
    }


def dispatcher() -> Dispatcher:
    """A dispatcher with the handler registered."""
    disp = Dispatcher(**options())
    disp.register(MESSAGE, on_message)
    return disp
