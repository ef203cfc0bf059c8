"""Shutdown: the drain budget, events reported one by one, the slow-handler clock, the journal."""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lark_events_core import Event, Request
from lark_events_core import journal as journal_module
from lark_events_core.errors import AbandonedAtShutdown
from lark_events_core.executors import ThreadExecutor
from lark_events_core.journal import SQLiteJournal
from lark_events_core.shutdown import DEFAULT_SHUTDOWN_TIMEOUT, drain_budget, server_window
from tests.delivery.helpers import MESSAGE, dispatcher, event_request, messages


class _Worker:
    """Stands for a gunicorn worker: its bound ``handle_exit`` is the SIGTERM handler."""

    class cfg:
        graceful_timeout = 10

    def handle_exit(self, signum: int, frame: Any) -> None:
        pass


_Worker.__module__ = "gunicorn.workers.fake"


@pytest.fixture
def gunicorn_worker() -> Iterator[None]:
    previous = signal.signal(signal.SIGTERM, _Worker().handle_exit)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def test_budget_without_a_server_window_is_the_configured_timeout() -> None:
    assert server_window() is None
    assert drain_budget() == DEFAULT_SHUTDOWN_TIMEOUT
    assert drain_budget(4.0) == 4.0


def test_budget_under_gunicorn_ends_before_its_graceful_timeout(gunicorn_worker: None) -> None:
    assert server_window() == 10.0
    assert drain_budget() == 9.0  # one second kept to report what is left
    assert drain_budget(60.0) == 9.0  # a configured timeout never outlasts the window
    assert drain_budget(2.0) == 2.0


def test_dispatcher_close_follows_the_window(gunicorn_worker: None) -> None:
    disp = dispatcher(defer=True)
    assert disp._executors.budget(None) == 9.0


class _LoopWorker(_Worker):
    """Stands for gunicorn's aiohttp worker: a subclass from outside gunicorn whose SIGTERM
    handler is the event loop's (``loop.add_signal_handler``), as in aiohttp.worker."""

    def __init__(self) -> None:
        self.exits: list[int] = []

    def handle_exit(self, signum: int, frame: Any) -> None:
        self.exits.append(signum)


_LoopWorker.__module__ = "aiohttp.worker"


def test_a_worker_handling_sigterm_on_the_loop_has_its_window_read(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from lark_events_core import shutdown

    monkeypatch.setattr(shutdown, "_state", {"window": None, "sigterm_at": None, "watched": False})
    worker = _LoopWorker()

    async def main() -> tuple[float | None, float, float]:
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, worker.handle_exit, signal.SIGTERM, None)
        try:
            assert server_window() is None  # signal.getsignal() shows only asyncio's placeholder
            shutdown.watch_loop()
            window, before = server_window(), drain_budget()
            signal.raise_signal(signal.SIGTERM)
            for _ in range(100):  # the loop runs the handler on its next pass
                if worker.exits:
                    break
                await asyncio.sleep(0.01)
            await asyncio.sleep(0.2)
            return window, before, drain_budget()
        finally:
            loop.remove_signal_handler(signal.SIGTERM)

    window, before, after = asyncio.run(main())
    assert window == 10.0
    assert before == 9.0
    assert worker.exits == [signal.SIGTERM]  # the worker's own handler still ran
    assert 0.0 < after <= 9.0 - 0.2  # the time since SIGTERM counts against the window


def test_watch_loop_leaves_a_plain_loop_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    from lark_events_core import shutdown

    monkeypatch.setattr(shutdown, "_state", {"window": None, "sigterm_at": None, "watched": False})
    calls: list[int] = []

    async def main() -> None:
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, calls.append, signal.SIGTERM)
        try:
            shutdown.watch_loop()
            assert server_window() is None
            assert drain_budget() == DEFAULT_SHUTDOWN_TIMEOUT
        finally:
            loop.remove_signal_handler(signal.SIGTERM)

    asyncio.run(main())
    bare = asyncio.new_event_loop()
    try:
        shutdown.watch_loop(bare)  # no handler at all: nothing to read
    finally:
        bare.close()
    assert server_window() is None


class _UvicornServer:
    """Stands for uvicorn's ``Server``: its bound ``handle_exit`` is the SIGTERM handler, and under
    gunicorn's UvicornWorker its config notifies the worker (``callback_notify``)."""

    def __init__(self, worker: object | None) -> None:
        notify = getattr(worker, "handle_exit", None)
        self.config = type("Config", (), {"callback_notify": notify})()

    def handle_exit(self, signum: int, frame: Any) -> None:
        pass


_UvicornServer.__module__ = "uvicorn.server"


@pytest.mark.parametrize("under_gunicorn", [True, False], ids=["UvicornWorker", "plain-uvicorn"])
def test_uvicorn_under_gunicorn_has_the_workers_window(under_gunicorn: bool) -> None:
    server = _UvicornServer(_Worker() if under_gunicorn else None)
    previous = signal.signal(signal.SIGTERM, server.handle_exit)
    try:
        assert server_window() == (10.0 if under_gunicorn else None)
        assert drain_budget() == (9.0 if under_gunicorn else DEFAULT_SHUTDOWN_TIMEOUT)
    finally:
        signal.signal(signal.SIGTERM, previous)


def _blocking_dispatcher(release: threading.Event, **options: Any) -> Any:
    disp = dispatcher(defer=True, **options)
    started = threading.Event()

    def handler(event: Event[Any]) -> None:
        started.set()
        release.wait(10)

    disp.register(MESSAGE, handler)
    disp._executors._threads = ThreadExecutor(max_workers=1, max_pending=8)
    return disp, started


def test_events_left_at_shutdown_are_logged_and_given_to_on_give_up(
    caplog: pytest.LogCaptureFixture,
) -> None:
    given: list[tuple[str | None, bool]] = []

    def on_give_up(event: Event[Any], error: BaseException) -> None:
        assert isinstance(error, AbandonedAtShutdown)
        given.append((event.event_id, error.started))

    release = threading.Event()
    disp, started = _blocking_dispatcher(release, on_give_up=on_give_up)
    ran: list[str | None] = []
    disp.register("im.chat.updated_v1", lambda e: ran.append(e.event_id), deferred=True)
    assert disp.handle(event_request(event_id="running")).status == 200
    assert started.wait(5)
    for i in range(3):
        assert disp.handle(event_request("im.chat.updated_v1", f"queued-{i}")).status == 200
    with caplog.at_level(logging.ERROR, "lark_events"):
        disp.close(0.2)
    release.set()
    time.sleep(0.2)
    assert sorted(given) == [
        ("queued-0", False),
        ("queued-1", False),
        ("queued-2", False),
        ("running", True),
    ]
    assert ran == []  # dropped jobs never start in a process that is going away
    lines = messages(caplog, logging.ERROR)
    for event_id in ("running", "queued-0", "queued-1", "queued-2"):
        assert sum(f"event_id={event_id}," in line for line in lines) == 1
    # A dropped event's claim was released: the platform's re-push is handled.
    assert disp.handle(event_request("im.chat.updated_v1", "queued-0")).status == 200


def test_a_second_close_reports_nothing_already_reported(caplog: pytest.LogCaptureFixture) -> None:
    # Two exit hooks can close one pool (an adapter's and the executors' own): each event left is
    # still one ERROR line and one on_give_up (found with Django under gunicorn: twice before).
    given: list[str | None] = []
    release = threading.Event()
    disp, started = _blocking_dispatcher(release, on_give_up=lambda e, _: given.append(e.event_id))
    pool = disp._executors._threads
    assert disp.handle(event_request(event_id="running")).status == 200
    assert started.wait(5)
    assert disp.handle(event_request(event_id="queued")).status == 200
    with caplog.at_level(logging.ERROR, "lark_events"):
        assert pool is not None
        assert pool.close(0.2) is False
        assert pool.close(0.2) is False  # the running one still runs: nothing new to report
    release.set()
    lines = messages(caplog, logging.ERROR)
    assert sorted(given) == ["queued", "running"]
    for event_id in ("running", "queued"):
        assert sum(f"event_id={event_id}," in line for line in lines) == 1
    assert sum("still queued or running" in line for line in lines) == 1


def test_slow_warning_counts_the_handler_not_its_wait_for_a_thread(
    caplog: pytest.LogCaptureFixture,
) -> None:
    disp = dispatcher(handler_threads=1, slow_handler_warning=0.5)
    disp.register(MESSAGE, lambda event: time.sleep(0.3))

    async def main() -> list[int]:
        # One thread: the second handler waits 0.3 s for it, then runs 0.3 s.
        answers = await asyncio.gather(
            disp.handle_async(event_request(event_id="first")),
            disp.handle_async(event_request(event_id="second")),
        )
        return [a.status for a in answers]

    with caplog.at_level(logging.WARNING, "lark_events"):
        assert asyncio.run(main()) == [200, 200]
    assert not [m for m in messages(caplog) if "took" in m]
    assert disp._executors.handler_pool() is not None
    assert disp._executors.handler_pool()._max_workers == 1  # type: ignore[union-attr]


def test_slow_warning_still_fires_for_a_slow_sync_handler(
    caplog: pytest.LogCaptureFixture,
) -> None:
    disp = dispatcher(handler_threads=2, slow_handler_warning=0.1)
    disp.register(MESSAGE, lambda event: time.sleep(0.2))
    with caplog.at_level(logging.WARNING, "lark_events"):
        assert asyncio.run(disp.handle_async(event_request(event_id="slow"))).status == 200
    assert [m for m in messages(caplog) if "took" in m and "event_id=slow" in m]


# -- the journal -----------------------------------------------------------------------------


def _request(event_id: str) -> Request:
    return event_request(event_id=event_id)


class _Clock:
    """``time.time`` for the journal, moved only by the test: leases expire when it says so."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def time(self) -> float:
        return self.now


def test_a_second_process_takes_the_rows_only_when_the_first_is_silent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A clock of the test's own: with the real one, a loaded machine could let the second
    # journal's fresh lease expire before the first one looks again.
    clock = _Clock()
    monkeypatch.setattr(journal_module, "time", clock)
    path = tmp_path / "j.db"
    disp = dispatcher()
    disp.register(MESSAGE, lambda e: None)
    step = disp.prepare(_request("ev-1"))
    first, second = SQLiteJournal(path, lease=0.3), SQLiteJournal(path, lease=0.3)
    assert first.add("k1", step, b"{}", False)  # type: ignore[arg-type]
    assert not first.add("k1", step, b"{}", False)  # type: ignore[arg-type]
    assert second.claim_orphans() == []  # the first one's heartbeat is fresh
    clock.now += 0.4  # the first one falls silent for longer than its lease
    taken = second.claim_orphans()
    assert [e.key for e in taken] == ["k1"]
    assert first.claim_orphans() == []  # a new heartbeat does not take it back
    second.give_up("k1")
    assert [e.key for e in first.claim_orphans()] == ["k1"]  # given up: free at once
    first.remove("k1")
    assert first.pending() == 0
    first.close()
    second.close()


def test_journaled_events_are_replayed_by_the_next_dispatcher_once(tmp_path: Path) -> None:
    path = tmp_path / "j.db"
    release = threading.Event()
    crashed = dispatcher(defer=True, journal=SQLiteJournal(path, lease=0.3))
    crashed.register(MESSAGE, lambda e: release.wait(10))
    for i in range(3):
        assert crashed.handle(_request(f"ev-{i}")).status == 200
    # The first process "dies": its journal stops beating, its threads never finish.
    crashed._executors._journal.close()  # type: ignore[union-attr]
    assert SQLiteJournal(path).pending() == 3
    ran: list[str | None] = []
    done = threading.Event()

    def record(event: Event[Any]) -> None:
        ran.append(event.event_id)
        if len(ran) == 3:
            done.set()

    restarted = dispatcher(defer=True, journal=SQLiteJournal(path, lease=0.3))
    restarted.register(MESSAGE, record)
    assert done.wait(10)
    time.sleep(0.5)
    assert sorted(ran) == ["ev-0", "ev-1", "ev-2"]
    assert SQLiteJournal(path).pending() == 0
    release.set()
    restarted._executors._journal.close()  # type: ignore[union-attr]
