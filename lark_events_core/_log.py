"""The package's logger and how ids and types appear in its lines (never bodies or secrets)."""

from __future__ import annotations

import logging

__all__ = ["logger", "safe"]

logger = logging.getLogger("lark_events")


def safe(text: object, limit: int = 80) -> str:
    """A wire value (type, id, server text) as it may appear in a log line: bounded, one line.

    At most ``limit`` characters are kept (``...`` marks a cut); backslashes, every control
    character (``\\n``, ``\\r``, ``\\x1b``, ...) and everything outside printable ASCII are
    escaped, so a value can neither start a new line nor pass for another field's text.
    """
    if text is None:
        return "-"
    if not isinstance(text, str):
        text = str(text)
    cut = text[:limit]
    if cut.isascii() and cut.isprintable() and "\\" not in cut:
        shown = cut  # the common case: nothing to escape
    else:
        shown = cut.encode("unicode_escape").decode("ascii")
    return shown + "..." if len(text) > limit else shown
