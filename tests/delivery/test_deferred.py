"""Deferred handlers: answered first, run in the background, retried, drained, bounded."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from lark_events_core import Event
from lark_events_core.executors import AsyncioExecutor, ThreadExecutor

from .helpers import MESSAGE, dispatcher, event_request

SECRET_TEXT = "body-secret-text-never-logged"


# -- thread pool (sync callers) -------------------------------------------------------------------


def test_answer_comes_before_the_handler_finishes() -> None:
    d = dispatcher(defer=True)
    release = threading.Event()
    done = threading.Event()

    def handler(event: Event[Any]) -> None:
        release.wait(5)
        done.set()

    d.register(MESSAGE, handler)
    started = time.monotonic()
    response = d.handle(event_request())
    assert response.status == 200
    assert time.monotonic() - started < 1.0
    assert not done.is_set()  # the handler is still blocked: the answer did not wait for it
    release.set()
    d.close(5)
    assert done.is_set()


def test_per_handler_deferral() -> None:
    d = dispatcher()
    seen: list[str] = []
    gate = threading.Event()
    d.register(MESSAGE, lambda e: (gate.wait(5), seen.append("deferred")), deferred=True)
    d.register("im.chat.updated_v1", lambda e: seen.append("inline"))
    d.handle(event_request(MESSAGE))
    d.handle(event_request("im.chat.updated_v1"))
    assert seen == ["inline"]
    gate.set()
    d.close(5)
    assert seen == ["inline", "deferred"]


def test_claim_is_held_while_running_and_completed_after() -> None:
    d = dispatcher(defer=True)
    gate = threading.Event()
    calls: list[int] = []
    d.register(MESSAGE, lambda e: (calls.append(1), gate.wait(5)))
    assert d.handle(event_request(event_id="held")).status == 200
    assert d.handle(event_request(event_id="held")).status == 200  # duplicate while running
    gate.set()
    d.close(5)
    assert d.handle(event_request(event_id="held")).status == 200  # duplicate after success
    d.close(5)
    assert calls == [1]


def test_failure_is_retried_and_logged_with_the_event_id(caplog: pytest.LogCaptureFixture) -> None:
    d = dispatcher(defer=True, retries=2)
    calls: list[int] = []

    def flaky(event: Event[Any]) -> None:
        calls.append(1)
        if len(calls) < 3:
            raise RuntimeError("transient")

    d.register(MESSAGE, flaky)
    with caplog.at_level(logging.INFO, "lark_events"):
        assert d.handle(event_request(event_id="ev-flaky", event={"t": SECRET_TEXT})).status == 200
        d.close(5)
    assert len(calls) == 3
    retries = [r for r in caplog.records if "retrying" in r.getMessage()]
    assert len(retries) == 2
    assert all("event_id=ev-flaky" in r.getMessage() for r in retries)
    assert SECRET_TEXT not in caplog.text
    # It succeeded at last: the id is done, a re-push is not handled again.
    d.handle(event_request(event_id="ev-flaky"))
    d.close(5)
    assert len(calls) == 3


def test_final_failure_is_logged_released_and_reported(caplog: pytest.LogCaptureFixture) -> None:
    given_up: list[tuple[str | None, str]] = []
    d = dispatcher(
        defer=True,
        retries=1,
        on_give_up=lambda event, exc: given_up.append((event.event_id, str(exc))),
    )
    calls: list[int] = []

    def broken(event: Event[Any]) -> None:
        calls.append(1)
        raise RuntimeError("always")

    d.register(MESSAGE, broken)
    with caplog.at_level(logging.ERROR, "lark_events"):
        assert d.handle(event_request(event_id="ev-broken", event={"t": SECRET_TEXT})).status == 200
        d.close(5)
    assert len(calls) == 2
    assert given_up == [("ev-broken", "always")]
    final = [r for r in caplog.records if "giving up" in r.getMessage()]
    assert len(final) == 1
    assert "event_id=ev-broken" in final[0].getMessage()
    assert SECRET_TEXT not in caplog.text
    # The claim was released: a re-push of the same event is handled again.
    d.handle(event_request(event_id="ev-broken"))
    d.close(5)
    assert len(calls) == 4


def test_thread_pool_bound_answers_503_and_releases_the_claim(
    caplog: pytest.LogCaptureFixture,
) -> None:
    pool = ThreadExecutor(max_workers=1, max_pending=1, submit_timeout=0.05)
    d = dispatcher(defer=True, executor=pool)
    gate = threading.Event()
    calls: list[str | None] = []
    d.register(MESSAGE, lambda e: (calls.append(e.event_id), gate.wait(5)))
    assert d.handle(event_request(event_id="first")).status == 200
    with caplog.at_level(logging.WARNING, "lark_events"):
        started = time.monotonic()
        refused = d.handle(event_request(event_id="second"))
        waited = time.monotonic() - started
    assert refused.status == 503
    assert waited < 1.0
    assert "event_id=second" in caplog.text
    assert pool.pending == 1
    gate.set()
    time.sleep(0.2)
    # The refused event's claim was released: the platform's retry is handled.
    assert d.handle(event_request(event_id="second")).status == 200
    d.close(5)
    assert calls == ["first", "second"]


def test_close_drains_running_work_and_cuts_retry_backoff() -> None:
    d = dispatcher(defer=True, retries=1, retry_backoff=30.0)
    calls: list[int] = []

    def handler(event: Event[Any]) -> None:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("first")

    d.register(MESSAGE, handler)
    d.handle(event_request())
    time.sleep(0.1)
    started = time.monotonic()
    d.close(10)
    assert time.monotonic() - started < 5  # the 30 s back-off was cut short by close()
    assert calls == [1, 1]


def test_close_timeout_returns_and_logs(caplog: pytest.LogCaptureFixture) -> None:
    d = dispatcher(defer=True)
    gate = threading.Event()
    d.register(MESSAGE, lambda e: gate.wait(10))
    d.handle(event_request())
    with caplog.at_level(logging.WARNING, "lark_events"):
        started = time.monotonic()
        d.close(0.2)
    assert time.monotonic() - started < 2
    assert "still queued or running" in caplog.text
    gate.set()


def test_dispatcher_usable_after_close() -> None:
    d = dispatcher(defer=True)
    calls: list[int] = []
    d.register(MESSAGE, lambda e: calls.append(1))
    d.handle(event_request())
    d.close(5)
    assert d.handle(event_request()).status == 200
    d.close(5)
    assert calls == [1, 1]


def test_background_context_wraps_every_attempt_in_the_worker_thread() -> None:
    entered: list[tuple[str, str]] = []

    @contextlib.contextmanager
    def db_connections(event: Event[Any]) -> Iterator[None]:
        entered.append(("enter", threading.current_thread().name))
        try:
            yield
        finally:
            entered.append(("exit", threading.current_thread().name))

    d = dispatcher(defer=True, retries=1, background_context=db_connections)
    ran_in: list[str] = []

    def handler(event: Event[Any]) -> None:
        ran_in.append(threading.current_thread().name)
        if len(ran_in) == 1:
            raise RuntimeError("first")

    d.register(MESSAGE, handler)
    d.handle(event_request())
    d.close(5)
    assert [kind for kind, _ in entered] == ["enter", "exit", "enter", "exit"]
    assert all(name == ran_in[0] for _, name in entered)
    assert ran_in[0].startswith("lark-events-bg")


def test_async_handler_deferred_from_a_sync_caller() -> None:
    d = dispatcher(defer=True)
    done = threading.Event()

    async def handler(event: Event[Any]) -> None:
        await asyncio.sleep(0.05)
        done.set()

    d.register(MESSAGE, handler)
    assert d.handle(event_request()).status == 200
    d.close(5)
    assert done.is_set()


# -- asyncio tasks (async callers) ----------------------------------------------------------------


def test_async_answer_is_immediate_and_aclose_drains() -> None:
    d = dispatcher(defer=True)
    done: list[str | None] = []
    release: list[asyncio.Event] = []

    async def handler(event: Event[Any]) -> None:
        await release[0].wait()  # cannot finish before the answer is in: no clock to flake on
        done.append(event.event_id)

    d.register(MESSAGE, handler)

    async def main() -> None:
        release.append(asyncio.Event())
        # wait_for: an answer that waited for the handler fails here instead of hanging.
        response = await asyncio.wait_for(d.handle_async(event_request(event_id="a1")), 10)
        assert response.status == 200
        assert done == []  # answered while the handler is still waiting
        release[0].set()
        await d.aclose(5)

    asyncio.run(main())
    assert done == ["a1"]


def test_async_sync_handler_runs_in_a_thread_with_retries(
    caplog: pytest.LogCaptureFixture,
) -> None:
    d = dispatcher(defer=True, retries=2)
    threads: list[str] = []

    def flaky(event: Event[Any]) -> None:
        threads.append(threading.current_thread().name)
        if len(threads) < 3:
            raise RuntimeError("transient")

    d.register(MESSAGE, flaky)

    async def main() -> None:
        assert (await d.handle_async(event_request(event_id="a-retry"))).status == 200
        await d.aclose(5)

    with caplog.at_level(logging.WARNING, "lark_events"):
        asyncio.run(main())
    assert len(threads) == 3
    assert threading.main_thread().name not in threads
    assert caplog.text.count("event_id=a-retry") == 2


def test_async_final_failure_releases_the_claim() -> None:
    d = dispatcher(defer=True, retries=0)
    calls: list[int] = []

    async def broken(event: Event[Any]) -> None:
        calls.append(1)
        raise RuntimeError("always")

    d.register(MESSAGE, broken)

    async def main() -> None:
        await d.handle_async(event_request(event_id="a-broken"))
        await asyncio.sleep(0.05)
        await d.handle_async(event_request(event_id="a-broken"))
        await d.aclose(5)

    asyncio.run(main())
    assert calls == [1, 1]


def test_aclose_cancels_after_timeout_and_releases_the_claim(
    caplog: pytest.LogCaptureFixture,
) -> None:
    d = dispatcher(defer=True)
    calls: list[int] = []

    async def forever(event: Event[Any]) -> None:
        calls.append(1)
        await asyncio.sleep(60)

    d.register(MESSAGE, forever)

    async def main() -> float:
        await d.handle_async(event_request(event_id="a-cancel"))
        await asyncio.sleep(0.05)
        started = time.monotonic()
        await d.aclose(0.2)
        return time.monotonic() - started

    with caplog.at_level(logging.ERROR, "lark_events"):
        assert asyncio.run(main()) < 3
    assert "cancelled at shutdown" in caplog.text
    assert "event_id=a-cancel" in caplog.text

    async def again() -> None:
        await d.handle_async(event_request(event_id="a-cancel"))
        await asyncio.sleep(0.05)
        await d.aclose(0.1)

    asyncio.run(again())
    assert calls == [1, 1]  # released, so handled again


def test_asyncio_bound_answers_503() -> None:
    tasks = AsyncioExecutor(max_tasks=2, submit_timeout=0.05)
    d = dispatcher(defer=True, executor=tasks)

    async def slow(event: Event[Any]) -> None:
        await asyncio.sleep(0.5)

    d.register(MESSAGE, slow)

    async def main() -> list[int]:
        statuses = [(await d.handle_async(event_request())).status for _ in range(4)]
        assert tasks.pending == 2
        await d.aclose(5)
        return statuses

    assert asyncio.run(main()) == [200, 200, 503, 503]


def test_explicit_thread_executor_works_from_async_callers() -> None:
    pool = ThreadExecutor(max_workers=2, max_pending=4)
    d = dispatcher(defer=True, executor=pool)
    done = threading.Event()
    d.register(MESSAGE, lambda e: done.set())

    async def main() -> None:
        assert (await d.handle_async(event_request())).status == 200
        await d.aclose(5)

    asyncio.run(main())
    assert done.is_set()


EXIT_SCRIPT = """
import sys, time
from lark_events_core import Dispatcher
from tests.delivery.helpers import KEY, MESSAGE, event_request

d = Dispatcher(KEY, defer=True)

@d.on(MESSAGE)
def handler(event):
    time.sleep(0.5)
    open(sys.argv[1], "w").write(event.event_id)

assert d.handle(event_request(event_id="ev-exit")).status == 200
# exit without close(): acknowledged work must still run
"""


def test_acknowledged_work_runs_before_a_normal_interpreter_exit(tmp_path: Any) -> None:
    import subprocess
    import sys

    from tests.support.servers import ROOT

    marker = tmp_path / "done"
    subprocess.run(
        [sys.executable, "-c", EXIT_SCRIPT, str(marker)], cwd=ROOT, check=True, timeout=60
    )
    assert marker.read_text() == "ev-exit"


def test_forked_child_gets_a_working_pool() -> None:
    import os

    d = dispatcher(defer=True)
    done = threading.Event()
    d.register(MESSAGE, lambda e: done.set())
    d.handle(event_request())  # the parent starts its pool thread
    assert done.wait(5)
    pid = os.fork()
    if pid == 0:  # the child: the parent's thread is not here; a new one must start
        child_done = threading.Event()
        d.register("im.chat.updated_v1", lambda e: child_done.set())
        d.handle(event_request("im.chat.updated_v1"))
        os._exit(0 if child_done.wait(5) else 1)
    _, status = os.waitpid(pid, 0)
    d.close(5)
    assert os.waitstatus_to_exitcode(status) == 0
