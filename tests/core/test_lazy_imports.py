"""Importing the core (and handling a request with a sync handler) loads no asyncio machinery."""

from __future__ import annotations

import json
import subprocess
import sys

LAZY = ("asyncio", "concurrent.futures", "queue", "lark_events_core.executors")

PROBE = """
import json, sys
import lark_events_core
from lark_events_core import Dispatcher, Request
from lark_events_core.testing import make_event, sign_event
after_import = sorted(m for m in {lazy!r} if m in sys.modules)
d = Dispatcher("k", "t")
d.on("im.message.receive_v1", lambda e: e.event.message)
s = sign_event(make_event("im.message.receive_v1", {{}}, token="t"), encrypt_key="k")
assert d.handle(Request.build("POST", s.headers, s.body)).status == 200
after_request = sorted(m for m in {lazy!r} if m in sys.modules)

async def handler(event):
    return None

d.on("im.message.message_read_v1", handler)
s = sign_event(make_event("im.message.message_read_v1", {{}}, token="t"), encrypt_key="k")
assert d.handle(Request.build("POST", s.headers, s.body)).status == 200
print(json.dumps([after_import, after_request, "asyncio" in sys.modules]))
"""


def _probe() -> list[object]:
    out = subprocess.run(
        [sys.executable, "-c", PROBE.format(lazy=LAZY)],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout
    result: list[object] = json.loads(out)
    return result


def test_import_and_a_sync_handler_load_no_asyncio_but_an_async_handler_still_works() -> None:
    after_import, after_request, asyncio_after_async_handler = _probe()
    assert after_import == []
    assert after_request == []
    assert asyncio_after_async_handler is True
