"""The shared background loop survives fork(): a child starts its own instead of hanging."""

from __future__ import annotations

import asyncio
import os
import select
import signal

import pytest

from lark_events_core import _invoke


async def _answer() -> int:
    await asyncio.sleep(0)
    return 42


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_async_handler_under_sync_caller_works_in_a_forked_child() -> None:
    assert _invoke.run_coroutine_sync(_answer()) == 42  # the parent's loop thread is running
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: without the at-fork reset this waits forever on a loop nobody runs
        os.close(read_fd)
        try:
            code = 0 if _invoke.run_coroutine_sync(_answer()) == 42 else 1
        except BaseException:
            code = 2
        os.write(write_fd, bytes([code]))
        os._exit(0)
    os.close(write_fd)
    ready: list[int] = []
    try:
        ready, _, _ = select.select([read_fd], [], [], 10.0)
        assert ready, "the forked child hung on the inherited background loop"
        assert os.read(read_fd, 1) == b"\x00"
    finally:
        os.close(read_fd)
        if not ready:
            os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)


def test_background_loop_is_shared_and_running() -> None:
    loop = _invoke.background_loop()
    assert loop is _invoke.background_loop()
    assert loop.is_running()
