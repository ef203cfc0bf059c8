"""Importing the core loads no asyncio, cryptography or logging; a sync handler no asyncio."""

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


# Loaded on first use, not by ``import lark_events_core`` (the import-time budget, issue 16):
# cryptography when a cipher is built, logging with the first log line or ``ctx.logger``, the
# result builders and health checks when a handler or a probe uses them, the hand-written
# event models with the first lookup of one of them (``MODELS[type]`` or an attribute).
HAND_WRITTEN_MODELS = tuple(
    f"lark_events_core.events.{name}"
    for name in ("_application", "_contact", "_im", "cards", "common", "v1")
)
NOT_AT_IMPORT = (
    "cryptography",
    "logging",
    "traceback",
    "lark_events_core.results",
    "lark_events_core.health",
    *HAND_WRITTEN_MODELS,
    *LAZY,
)

IMPORT_PROBE = """
import json, sys
import lark_events_core
from lark_events_core import Dispatcher, Event, Request, Response, Settings
loaded = sorted(m for m in {lazy!r} if m in sys.modules)
from lark_events_core import Toast
d = Dispatcher("k", "t")
print(json.dumps([loaded, Toast.__module__, [m for m in {lazy!r} if m in sys.modules]]))
"""


def test_import_loads_neither_cryptography_nor_logging_nor_the_rarely_used_modules() -> None:
    out = subprocess.run(
        [sys.executable, "-c", IMPORT_PROBE.format(lazy=NOT_AT_IMPORT)],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout
    loaded, toast_module, after_dispatcher = json.loads(out)
    assert loaded == []
    assert toast_module == "lark_events_core.results"
    # An encrypt key builds its cipher with the dispatcher: cryptography loads then, not later.
    assert "cryptography" in after_dispatcher


# orjson (the ``fast`` extra) imports dataclasses itself; blocked here, as an install without
# the extra has it. Request, Response, Settings, Handler and ParsedRequest are frozen Structs.
# (Registering a handler loads routing, whose classes are still dataclasses.)
NO_DATACLASSES_PROBE = """
import json, sys
sys.modules["orjson"] = None  # import orjson raises ImportError: the stdlib backend
import lark_events_core
from lark_events_core import Dispatcher, Request, Response, Settings
after_import = "dataclasses" in sys.modules
d = Dispatcher("k", "t")
Request.build("POST", {}, b"{}")
Response.json(200, {})
print(json.dumps([after_import, "dataclasses" in sys.modules, lark_events_core._json.BACKEND]))
"""


def test_import_and_a_dispatcher_load_no_dataclasses_without_orjson() -> None:
    out = subprocess.run(
        [sys.executable, "-c", NO_DATACLASSES_PROBE],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout
    assert json.loads(out) == [False, False, "json"]
