"""Shared builders for the delivery tests."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from lark_events_core import Dispatcher, Request
from lark_events_core.testing import make_event, sign_event

KEY = "delivery-test-encrypt-key"
MESSAGE = "im.message.receive_v1"
CARD = "card.action.trigger"


def event_request(
    event_type: str = MESSAGE,
    event_id: str | None = None,
    event: dict[str, Any] | None = None,
) -> Request:
    """A signed, encrypted v2 event exactly as the platform sends it."""
    body = make_event(event_type, event or {}, event_id=event_id or uuid.uuid4().hex)
    return sign_event(body, encrypt_key=KEY).as_request()


def dispatcher(**options: Any) -> Dispatcher:
    """A dispatcher with the test key and quick retries."""
    options.setdefault("retry_backoff", 0.01)
    return Dispatcher(KEY, **options)


def messages(caplog: Any, level: int = logging.DEBUG) -> list[str]:
    """Every lark_events log line captured so far, formatted, with tracebacks."""
    out = []
    for record in caplog.records:
        if record.name.startswith("lark_events") and record.levelno >= level:
            text = record.getMessage()
            if record.exc_text:
                text += "\n" + record.exc_text
            out.append(text)
    return out
