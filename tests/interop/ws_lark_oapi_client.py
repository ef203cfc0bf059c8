"""The official Python SDK's long-connection client (``lark_oapi.ws.Client``), as a process.

Driven by ``test_ws_clients.py``. Environment: ``APP_ID``, ``APP_SECRET``, ``DOMAIN``. Prints one
JSON object per line on stdout, ``{"kind": "event", ...}`` for every event a handler received;
the SDK's own log goes to stderr.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

import lark_oapi as lark
from lark_oapi.event.custom import CustomizedEvent


def out(**fields: Any) -> None:
    sys.stdout.write(json.dumps(fields) + "\n")
    sys.stdout.flush()


def on_message(data: CustomizedEvent) -> None:
    event = data.event or {}
    out(kind="event", schema="v2", id=data.header.event_id, text=event["message"]["content"])


def on_v1_message(data: CustomizedEvent) -> None:
    out(kind="event", schema="v1", id=data.uuid, text=(data.event or {})["text"])


def on_fail(data: CustomizedEvent) -> None:
    out(kind="event", schema="v2", id=data.header.event_id, text="failing")
    raise RuntimeError("handler failed on purpose")


def main() -> None:
    handler = (
        lark.EventDispatcherHandler.builder("", "")
        .register_p2_customized_event("im.message.receive_v1", on_message)
        .register_p1_customized_event("message", on_v1_message)
        .register_p2_customized_event("interop.fail_v1", on_fail)
        .build()
    )
    client = lark.ws.Client(
        os.environ["APP_ID"],
        os.environ["APP_SECRET"],
        event_handler=handler,
        domain=os.environ["DOMAIN"],
        log_level=lark.LogLevel.INFO,
    )
    out(kind="starting")
    client.start()


if __name__ == "__main__":
    main()
