"""The logger adapter behind ``ctx.logger`` (its own module: importing the core skips logging)."""

from __future__ import annotations

import logging
from collections.abc import MutableMapping
from typing import Any

__all__ = ["EventLogger"]


class EventLogger(logging.LoggerAdapter):  # type: ignore[type-arg]
    """The package logger; every message ends with the event's id and type."""

    def process(self, msg: Any, kwargs: MutableMapping[str, Any]) -> tuple[Any, Any]:
        """Append ``(event_id=..., event_type=...)`` to the message."""
        extra = self.extra or {}
        return f"{msg} (event_id={extra.get('event_id')}, event_type={extra.get('event_type')})", {
            **kwargs,
            "extra": {**extra, **kwargs.get("extra", {})},
        }
