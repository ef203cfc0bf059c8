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

import sys
import threading
import time
from collections import OrderedDict
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


# Rough size of one entry besides its key: dict slot, OrderedDict link, tuple, float, owner.
_ENTRY_OVERHEAD = 200
_DONE = ""  # the owner recorded for a handled key (owners are never empty)


class MemoryDedupStore:
    """An in-process store, bounded in entries and in bytes, expiring by time.

    Right for one process. Several processes or hosts (gunicorn workers, long-connection clients in
    cluster mode, Celery workers) need a shared store such as
    :class:`lark_events_core.redis_store.RedisDedupStore`. When a bound is reached the entries
    touched longest ago go first, so a flood of new ids can shorten the retention of old ones but
    never grows memory.
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
        self._now = time.monotonic if clock is None else clock
        # key -> (expiry, owner); owner == _DONE once handled.
        self._entries: OrderedDict[str, tuple[float, str]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def approx_bytes(self) -> int:
        """Estimated memory held by the entries."""
        return self._bytes

    def claim(self, key: str, owner: str, ttl: float) -> bool:
        """Atomically claim ``key`` unless it is claimed or done and not expired."""
        now = self._now()
        with self._lock:
            self._expire_some(now)
            current = self._entries.get(key)
            if current is not None and current[0] > now:
                return False
            self._put(key, now + ttl, owner)
            return True

    def complete(self, key: str, owner: str, ttl: float) -> None:
        """Remember ``key`` as handled for ``ttl`` seconds (unless someone else holds it now)."""
        now = self._now()
        with self._lock:
            current = self._entries.get(key)
            if current is not None and current[0] > now and current[1] not in (owner, _DONE):
                return  # our claim expired and another delivery took over: it will settle
            self._put(key, now + ttl, _DONE)

    def release(self, key: str, owner: str) -> None:
        """Forget ``owner``'s claim; a claim held by another owner, or a done key, stays."""
        with self._lock:
            current = self._entries.get(key)
            if current is not None and current[1] == owner:
                del self._entries[key]
                self._bytes -= _size(key)

    async def aclaim(self, key: str, owner: str, ttl: float) -> bool:
        """:meth:`claim` for async callers (no I/O, so no thread hop)."""
        return self.claim(key, owner, ttl)

    async def acomplete(self, key: str, owner: str, ttl: float) -> None:
        """:meth:`complete` for async callers."""
        self.complete(key, owner, ttl)

    async def arelease(self, key: str, owner: str) -> None:
        """:meth:`release` for async callers."""
        self.release(key, owner)

    def _put(self, key: str, expiry: float, owner: str) -> None:
        entries = self._entries
        if key in entries:
            entries.move_to_end(key)
        else:
            self._bytes += _size(key)
        entries[key] = (expiry, owner)
        while len(entries) > self.max_entries or self._bytes > self.max_bytes:
            old, _ = entries.popitem(last=False)
            self._bytes -= _size(old)

    def _expire_some(self, now: float, limit: int = 8) -> None:
        # Entries are roughly in expiry order; dropping a few expired ones from the front on each
        # claim keeps the store from holding dead entries without a sweeper thread.
        entries = self._entries
        for _ in range(limit):
            if not entries:
                return
            key, (expiry, _) = next(iter(entries.items()))
            if expiry > now:
                return
            del entries[key]
            self._bytes -= _size(key)


def _size(key: str) -> int:
    return sys.getsizeof(key) + _ENTRY_OVERHEAD
