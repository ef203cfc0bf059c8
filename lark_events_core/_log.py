"""The package's logger and how ids and types appear in its lines (never bodies or secrets)."""

from __future__ import annotations

import logging

__all__ = ["logger", "safe"]

logger = logging.getLogger("lark_events")


def safe(text: str | None, limit: int = 80) -> str:
    """A type or id as it may appear in a log line: bounded and printable."""
    if text is None:
        return "-"
    return text[:limit].encode("ascii", "backslashreplace").decode("ascii")
