"""Warnings about garbage from the server, logged at most once per interval per kind.

A server (or a proxy in between) that floods the connection with invalid frames must not flood
the log too: the first warning of a kind is logged, the next ones within ``interval`` seconds are
counted, and the next warning after that says how many were held back.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

__all__ = ["RateLimitedLog"]


class RateLimitedLog:
    """``warning(kind, msg, *args)`` logs at most once per ``interval`` seconds for each ``kind``.

    ``kind`` names a call site (a fixed string), never a wire value, so the table stays small.
    """

    def __init__(
        self,
        logger: logging.Logger,
        interval: float = 10.0,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.logger = logger
        self.interval = interval
        self._clock = clock
        self._last: dict[str, float] = {}
        self._held: dict[str, int] = {}

    def warning(self, kind: str, msg: str, *args: object) -> bool:
        """Log ``msg % args`` unless ``kind`` was logged less than ``interval`` s ago."""
        now = self._clock()
        last = self._last.get(kind)
        if last is not None and now - last < self.interval:
            self._held[kind] = self._held.get(kind, 0) + 1
            return False
        self._last[kind] = now
        held = self._held.pop(kind, 0)
        if held:
            self.logger.warning(
                msg + " (%d more like it in the last %.0fs not logged)",
                *args,
                held,
                now - (last or now),
            )
        else:
            self.logger.warning(msg, *args)
        return True
