"""Reassembly of messages split over several data frames (``sum`` > 1)."""

from __future__ import annotations

import time
from collections.abc import Callable

__all__ = ["Reassembler"]


class _Pending:
    __slots__ = ("created", "parts", "size", "total")

    def __init__(self, total: int, created: float) -> None:
        self.total = total
        self.created = created
        self.parts: dict[int, bytes] = {}
        self.size = 0


class Reassembler:
    """Joins fragments in ``seq`` order once all have arrived, in any order.

    Incomplete messages are dropped ``ttl`` seconds after their first fragment; at most
    ``max_messages`` messages and ``max_bytes`` bytes wait at once (the oldest go first).
    """

    def __init__(
        self,
        ttl: float = 5.0,
        *,
        max_messages: int = 1024,
        max_bytes: int = 64 * 1024 * 1024,
        max_fragments: int = 1024,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl = ttl
        self.max_messages = max_messages
        self.max_bytes = max_bytes
        self.max_fragments = max_fragments
        self._clock = clock
        self._pending: dict[str, _Pending] = {}
        self._bytes = 0
        self.dropped = 0

    def __len__(self) -> int:
        return len(self._pending)

    def add(self, message_id: str, total: int, seq: int, data: bytes) -> bytes | None:
        """Store one fragment; the whole payload when this one completes it, else ``None``.

        Raises :class:`ValueError` for an impossible ``total`` or ``seq``.
        """
        if not 1 <= total <= self.max_fragments or not 0 <= seq < total:
            raise ValueError("fragment index out of range")
        now = self._clock()
        self._expire(now)
        entry = self._pending.get(message_id)
        if entry is None:
            if total == 1:
                return data
            entry = self._pending[message_id] = _Pending(total, now)
        elif entry.total != total:
            raise ValueError("fragment count changed within a message")
        if not self._make_room(message_id, len(data)):
            return None
        old = entry.parts.get(seq)
        if old is not None:
            entry.size -= len(old)
            self._bytes -= len(old)
        entry.parts[seq] = data
        entry.size += len(data)
        self._bytes += len(data)
        if len(entry.parts) < entry.total:
            return None
        del self._pending[message_id]
        self._bytes -= entry.size
        return b"".join(entry.parts[i] for i in range(entry.total))

    def _expire(self, now: float) -> None:
        # Insertion order is creation order, so expired entries are at the front.
        while self._pending:
            key, entry = next(iter(self._pending.items()))
            if now - entry.created < self.ttl:
                return
            self._drop(key)

    def _make_room(self, current: str, incoming: int) -> bool:
        """Drop the oldest other messages until ``incoming`` more bytes fit; ``False`` if never."""
        for key in list(self._pending):
            if len(self._pending) <= self.max_messages and self._bytes + incoming <= self.max_bytes:
                return True
            if key != current:
                self._drop(key)
        if self._bytes + incoming <= self.max_bytes:
            return True
        self._drop(current)
        return False

    def _drop(self, key: str) -> None:
        entry = self._pending.pop(key)
        self._bytes -= entry.size
        self.dropped += 1
