"""Sync handlers under asyncio run on dedicated worker threads with executor semantics."""

from __future__ import annotations

import asyncio
import contextvars
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from lark_events_core._invoke import ThreadWorkers, call_async

VAR: contextvars.ContextVar[str] = contextvars.ContextVar("VAR", default="unset")


def test_the_call_runs_off_the_loop_thread_and_sees_the_callers_context() -> None:
    def handler(arg: str) -> tuple[str, str, bool]:
        return arg, VAR.get(), threading.current_thread() is threading.main_thread()

    async def main() -> tuple[str, str, bool]:
        VAR.set("from the request")
        result: tuple[str, str, bool] = await call_async(handler, False, "event")
        return result

    assert asyncio.run(main()) == ("event", "from the request", False)


def test_an_exception_reaches_the_awaiting_coroutine() -> None:
    def handler(arg: object) -> None:
        raise KeyError("boom")

    async def main() -> None:
        await call_async(handler, False, None)

    with pytest.raises(KeyError, match="boom"):
        asyncio.run(main())


def test_slow_calls_run_concurrently() -> None:
    barrier = threading.Barrier(3, timeout=10)

    def handler(arg: object) -> bool:
        barrier.wait()  # only returns once three calls are running at the same time
        return True

    async def main() -> list[bool]:
        return list(await asyncio.gather(*(call_async(handler, False, i) for i in range(3))))

    assert asyncio.run(main()) == [True, True, True]


def test_a_call_cancelled_before_it_starts_is_skipped() -> None:
    workers = ThreadWorkers(max_workers=1)
    started = threading.Event()
    release = threading.Event()
    ran: list[str] = []

    def blocker() -> None:
        started.set()
        release.wait(10)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        first, second = loop.create_future(), loop.create_future()
        workers.submit(loop, first, blocker)
        await asyncio.to_thread(started.wait, 10)
        workers.submit(loop, second, lambda: ran.append("second"))  # queued: one worker only
        second.cancel()
        release.set()
        await first
        third = loop.create_future()
        workers.submit(loop, third, lambda: ran.append("third"))
        await third

    asyncio.run(main())
    workers.drain()
    assert ran == ["third"]


def test_calls_awaited_one_after_another_reuse_one_thread() -> None:
    """The worker counts itself idle before its result goes back, so the caller's next call
    finds it instead of starting another thread (each one colder)."""
    workers = ThreadWorkers(max_workers=8)
    threads: set[int] = set()

    async def main() -> None:
        loop = asyncio.get_running_loop()
        for _ in range(50):
            future = loop.create_future()
            workers.submit(loop, future, lambda: threads.add(threading.get_ident()))
            await future

    asyncio.run(main())
    workers.drain()
    assert len(threads) == 1


def test_an_exception_of_a_worker_call_settles_its_future() -> None:
    workers = ThreadWorkers(max_workers=1)

    def broken() -> None:
        raise KeyError("boom")

    async def main() -> None:
        future = asyncio.get_running_loop().create_future()
        workers.submit(asyncio.get_running_loop(), future, broken)
        await future

    with pytest.raises(KeyError, match="boom"):
        asyncio.run(main())
    workers.drain()


def test_calls_in_flight_finish_at_interpreter_exit(tmp_path: Path) -> None:
    marker = tmp_path / "done"
    script = textwrap.dedent(
        f"""
        import asyncio, time
        from lark_events_core._invoke import call_async

        def handler(path):
            time.sleep(0.5)
            open(path, "w").write("finished")

        async def main():
            task = asyncio.ensure_future(call_async(handler, False, {str(marker)!r}))
            await asyncio.sleep(0.05)  # the handler is running; the loop ends without it

        asyncio.run(main())
        """
    )
    subprocess.run([sys.executable, "-c", script], check=True, timeout=60)
    assert marker.read_text() == "finished"
