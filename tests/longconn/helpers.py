"""Run long-connection scenarios on a fresh loop and fail on anything left behind."""

from __future__ import annotations

import asyncio
import gc
import logging
import warnings
from collections.abc import Awaitable, Callable
from typing import Any

from lark_events_core import Dispatcher
from lark_events_core.longconn import ClientConfig, LongConnectionClient
from lark_events_core.longconn.delivery import Target
from lark_events_core.testing.fake_platform import FakePlatform


class _Recorder(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def run_clean(scenario: Callable[[], Awaitable[Any]], timeout: float = 30.0) -> Any:
    """Run ``scenario()`` in ``asyncio.run``; fail on pending tasks, unclosed sessions, warnings.

    Problems the loop reports (``Task was destroyed but it is pending``, ``Unclosed client
    session``, exceptions never retrieved) and ResourceWarnings fail the test.
    """
    loop_problems: list[str] = []
    recorder = _Recorder()
    asyncio_log = logging.getLogger("asyncio")
    asyncio_log.addHandler(recorder)

    async def main() -> Any:
        def on_error(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
            loop_problems.append(str(context.get("message")))

        asyncio.get_running_loop().set_exception_handler(on_error)
        return await asyncio.wait_for(scenario(), timeout)

    gc.collect()  # what earlier tests left for the collector is not this scenario's problem
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            result = asyncio.run(main())
            gc.collect()
    finally:
        asyncio_log.removeHandler(recorder)
    problems = loop_problems + [r.getMessage() for r in recorder.records if r.levelno >= 40]
    problems += [
        str(w.message) for w in caught if issubclass(w.category, ResourceWarning | RuntimeWarning)
    ]
    assert not problems, problems
    return result


class StrictPlatform(FakePlatform):
    """The fake platform holding our client to the protocol's canonical shape.

    Every deviation the real server tolerates (and the fake records as a warning for the official
    clients) is a violation here, and leaving the ``async with`` block with any warning fails.
    """

    def __init__(self, **options: Any) -> None:
        super().__init__(strict=True, **options)

    async def __aexit__(self, *exc_info: object) -> None:
        await super().__aexit__(*exc_info)
        if exc_info[0] is None:
            self.assert_no_warnings()


#: A ``client_config`` for the platform that sets nothing, so the client's own ``config`` holds:
#: how tests get sub-second pings, which no server may set (``MIN_SERVER_INTERVAL``).
NO_SERVER_CONFIG: dict[str, Any] = {}


def make_client(
    platform: FakePlatform, target: Dispatcher | Target, **kwargs: Any
) -> LongConnectionClient:
    """A client of ``platform``'s default app with short timeouts."""
    options: dict[str, Any] = {
        "app_id": platform.app_id,
        "app_secret": platform.app_secret,
        "domain": platform.domain,
        "request_timeout": 2.0,
        "connect_timeout": 2.0,
        "close_timeout": 1.0,
        "liveness_timeout": 3.0,
        **kwargs,
    }
    return LongConnectionClient(target, **options)


def quiet_dispatcher() -> Dispatcher:
    """A dispatcher without keys (the long connection authenticates at connect time)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return Dispatcher()


def fast_config(ping_interval: float = 0.2) -> ClientConfig:
    """The client's own settings for tests: fast pings and reconnects, no jitter."""
    return ClientConfig(reconnect_interval=0.05, reconnect_nonce=0, ping_interval=ping_interval)
