"""Importing the core pulls in no framework, store, broker or protobuf (fresh interpreter)."""

from __future__ import annotations

import json
import subprocess
import sys

FORBIDDEN = ("flask", "django", "aiohttp", "redis", "celery", "kombu", "google", "lark_oapi")

PROBE = """
import json, sys
import lark_events_core
from lark_events_core import Dispatcher, Request
from lark_events_core.testing import make_event, sign_event
d = Dispatcher("k", "t", dedup=False)
d.on("im.message.receive_v1", lambda e: e.event.message)
s = sign_event(make_event("im.message.receive_v1", {}, token="t"), encrypt_key="k")
assert d.handle(Request.build("POST", s.headers, s.body)).status == 200
print(json.dumps(sorted({m.split(".")[0] for m in sys.modules})))
"""


def test_core_import_and_a_handled_request_load_no_optional_dependency() -> None:
    out = subprocess.run(
        [sys.executable, "-c", PROBE], check=True, capture_output=True, text=True, timeout=60
    ).stdout
    loaded = set(json.loads(out))
    assert "lark_events_core" in loaded
    assert loaded.isdisjoint(FORBIDDEN), loaded & set(FORBIDDEN)
