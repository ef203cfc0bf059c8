"""Deduplication stores: the same ``event_id`` handled once, nothing lost.

A delivery *claims* its key while it is handled, under an *owner* token unique to that delivery.
A second delivery during that time, or after the first one succeeded, is answered 200 without
running the handler. Success marks the key *done* for a retention covering the platform's retry
window; failure *releases* it so a retry is handled. A claim whose owner crashed expires after its
``ttl`` and can then be taken over; completing or releasing only ever touches a claim the caller
still owns (or, for completion, a claim that expired and was not taken over), so a slow owner can
never wipe out the claim of the delivery that took over from it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Protocol, runtime_checkable

__all__ = [
    "DEFAULT_CLAIM_TTL",
    "DEFAULT_DONE_TTL",
    "AsyncDedupStore",
    "DedupStore",
    "MemoryDedupStore",
]

#: How long a claim lives when its owner never finishes (a crashed process).
DEFAULT_CLAIM_TTL = 600.0
#: How long a handled id is remembered: the platform retries for about 7.1 hours.
DEFAULT_DONE_TTL = 7.2 * 3600


@runtime_checkable
class DedupStore(Protocol):
    """Where claims and handled ids live. Implementations must make :meth:`claim` atomic."""

    def claim(self, key: str, owner: str, ttl: float) -> bool:
        """Claim ``key`` for ``owner`` for ``ttl`` seconds; ``False`` when claimed or done."""
        ...

    def complete(self, key: str, owner: str, ttl: float) -> None:
        """Mark ``key`` handled for ``ttl`` seconds, unless another owner has taken it over."""
        ...

    def release(self, key: str, owner: str) -> None:
        """Drop ``owner``'s claim so the next delivery of ``key`` is handled."""
        ...


@runtime_checkable
class AsyncDedupStore(Protocol):
    """The awaitable twin of :class:`DedupStore`, used by async callers when a store has it."""

    async def aclaim(self, key: str, owner: str, ttl: float) -> bool:
        """See :meth:`DedupStore.claim`."""
        ...

    async def acomplete(self, key: str, owner: str, ttl: float) -> None:
        """See :meth:`DedupStore.complete`."""
        ...

    async def arelease(self, key: str, owner: str) -> None:
        """See :meth:`DedupStore.release`."""
        ...


# Rough size of one entry besides its key's characters: str header, dict slot, tuple, float.
# Counting characters instead of calling sys.getsizeof keeps claims cheap.
_ENTRY_OVERHEAD = 200
_DONE = ""  # the owner recorded for a handled key (owners are never empty)

_Entry = tuple[float, str]  # (expiry, owner); owner == _DONE once handled


class MemoryDedupStore:
    """An in-process store, bounded in entries and in bytes, expiring by time.

    Right for one process. Several processes or hosts (gunicorn workers, long-connection clients in
    cluster mode, Celery workers) need a shared store such as
    :class:`lark_events_core.redis_store.RedisDedupStore`.

    Entries live in two generations of plain dicts: new entries go to the current one; when it
    holds half the entry or byte bound it becomes the previous one and the old previous one is
    dropped whole. So memory never exceeds the bounds, eviction is O(1), and at least the
    ``max_entries / 2`` most recently written ids are always remembered (until they expire): a
    flood of new ids can shorten the retention of old ones but never grows memory.
    """

    def __init__(
        self,
        max_entries: int = 100_000,
        max_bytes: int = 32 * 1024 * 1024,
        clock: Callable[[], float] | None = None,
    ) -> None:
        if max_entries < 1 or max_bytes < 1:
            raise ValueError("max_entries and max_bytes must be positive")
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._half_entries = max(1, max_entries // 2)
        self._half_bytes = max(1, max_bytes // 2)
        self._now = time.monotonic if clock is None else clock
        self._current: dict[str, _Entry] = {}
        self._previous: dict[str, _Entry] = {}
        self._current_bytes = 0
        self._previous_bytes = 0
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._current) + len(self._previous)

    @property
    def approx_bytes(self) -> int:
        """Estimated memory held by the entries."""
        return self._current_bytes + self._previous_bytes

    # claim() and complete() run once per event each: the lock is taken with acquire/release
    # (cheaper than ``with``), and claim() accounts for a new key inline.

    def claim(self, key: str, owner: str, ttl: float) -> bool:
        """Atomically claim ``key`` unless it is claimed or done and not expired."""
        now = self._now()
        entry: _Entry = (now + ttl, owner)
        lock = self._lock
        lock.acquire()
        try:
            current = self._current
            found = current.setdefault(key, entry)
            if found is entry:  # a new key in the current generation (the common case)
                older = self._previous.get(key)
                if older is not None and older[0] > now:
                    del current[key]  # still live in the previous generation
                    return False
                self._current_bytes += _ENTRY_OVERHEAD + len(key)
                if len(current) >= self._half_entries or self._current_bytes >= self._half_bytes:
                    self._rotate()
                return True
            if found[0] > now:
                return False
            current[key] = entry  # expired: taken over
            return True
        finally:
            lock.release()

    def complete(self, key: str, owner: str, ttl: float) -> None:
        """Remember ``key`` as handled for ``ttl`` seconds (unless someone else holds it now)."""
        now = self._now()
        lock = self._lock
        lock.acquire()
        try:
            current = self._current
            entry = current.get(key)
            grew = entry is None
            if grew:
                entry = self._previous.get(key)
            if entry is not None and entry[0] > now and entry[1] != owner and entry[1] != _DONE:
                return  # our claim expired and another delivery took over: it will settle
            current[key] = (now + ttl, _DONE)  # an older copy in the previous one is shadowed
            if grew:
                self._grew(key)
        finally:
            lock.release()

    def release(self, key: str, owner: str) -> None:
        """Forget ``owner``'s claim; a claim held by another owner, or a done key, stays."""
        with self._lock:
            entry = self._current.get(key) or self._previous.get(key)
            if entry is None or entry[1] != owner:
                return
            if self._current.pop(key, None) is not None:
                self._current_bytes -= _ENTRY_OVERHEAD + len(key)
            if self._previous.pop(key, None) is not None:
                self._previous_bytes -= _ENTRY_OVERHEAD + len(key)

    async def aclaim(self, key: str, owner: str, ttl: float) -> bool:
        """:meth:`claim` for async callers (no I/O, so no thread hop)."""
        return self.claim(key, owner, ttl)

    async def acomplete(self, key: str, owner: str, ttl: float) -> None:
        """:meth:`complete` for async callers."""
        self.complete(key, owner, ttl)

    async def arelease(self, key: str, owner: str) -> None:
        """:meth:`release` for async callers."""
        self.release(key, owner)

    def _grew(self, key: str) -> None:
        # A new key in the current generation: count it; rotate at half a bound.
        self._current_bytes += _ENTRY_OVERHEAD + len(key)
        if len(self._current) >= self._half_entries or self._current_bytes >= self._half_bytes:
            self._rotate()

    def _rotate(self) -> None:
        self._previous, self._previous_bytes = self._current, self._current_bytes
        self._current, self._current_bytes = {}, 0
