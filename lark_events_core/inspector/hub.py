"""Live rows: each new exchange's summary goes to every open SSE stream."""

from __future__ import annotations

import asyncio
from typing import Any

__all__ = ["Hub"]

#: Summaries a slow page may fall behind by before it misses rows (it can reload).
QUEUE_SIZE = 256


class Hub:
    """A fan-out of exchange summaries to subscriber queues; ``None`` tells them to stop."""

    def __init__(self) -> None:
        self._queues: set[asyncio.Queue[dict[str, Any] | None]] = set()

    def subscribe(self) -> asyncio.Queue[dict[str, Any] | None]:
        """A new queue receiving every summary published from now on."""
        queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue(QUEUE_SIZE)
        self._queues.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[dict[str, Any] | None]) -> None:
        """Stop sending to ``queue``."""
        self._queues.discard(queue)

    def publish(self, summary: dict[str, Any]) -> None:
        """Send ``summary`` to every subscriber; a full queue drops it."""
        for queue in list(self._queues):
            if not queue.full():
                queue.put_nowait(summary)

    def close(self) -> None:
        """Tell every subscriber to stop."""
        for queue in list(self._queues):
            while queue.full():
                queue.get_nowait()
            queue.put_nowait(None)

    def __len__(self) -> int:
        return len(self._queues)
