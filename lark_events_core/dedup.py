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
from hashlib import blake2b
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


# A short ASCII key (the usual "lark:<app_id>:<event_id>") is kept as it is: its hash is cached
# on the str, so lookups cost nothing more. Any other key is kept as a 16-byte BLAKE2b digest
# (bytes never equal a str): either way an entry's key is at most about 113 bytes in memory,
# whatever the key's length.
_KEY_CHARS = 64

# What one entry holds at most, in bytes of real memory: its key (an ASCII str of at most 64
# characters: 113, in a 120-byte block), a float (24) or, while claimed, an (expiry, owner) tuple
# (56, plus the owner string), and its dict slot (a 24-byte entry and its index, at most 2/3
# full). tests/delivery/test_memory_store.py checks the bound with tracemalloc.
_DONE_BYTES = 220
_CLAIM_BYTES = _DONE_BYTES + 56 + 49  # + len(owner): owners are ASCII tokens made by code

_Entry = float | tuple[float, str]  # a handled key's expiry, or a claim's (expiry, owner)
_Key = str | bytes


def _stored_key(key: str) -> _Key:
    if len(key) <= _KEY_CHARS and key.isascii():
        return key
    # "surrogatepass": a lone surrogate (valid JSON "\ud800") must reach the store like any key.
    return blake2b(key.encode("utf-8", "surrogatepass"), digest_size=16).digest()


class MemoryDedupStore:
    """An in-process store, bounded in entries and in bytes, expiring by time.

    Right for one process. Several processes or hosts (gunicorn workers, long-connection clients in
    cluster mode, Celery workers) need a shared store such as
    :class:`lark_events_core.redis_store.RedisDedupStore`.

    A key longer than 64 characters, or not ASCII, is kept as a fixed-size digest (16 bytes of
    BLAKE2b), so an entry costs at most the same whatever the key's length: the byte bound is one
    of real memory. A handled key is a str or bytes and a float, objects the garbage collector
    never traverses; only claims in progress hold a tuple.

    Entries live in two generations of plain dicts: new entries go to the current one; when it
    holds half the entry or byte bound it becomes the previous one and the old previous one is
    dropped whole. So memory never exceeds the bounds, eviction is O(1), and at least the
    ``max_entries / 2`` most recently written ids are always remembered (until they expire): a
    flood of new ids can shorten the retention of old ones but never grows memory.
    """

    #: Calls never block (no I/O): async callers call the sync methods directly, no coroutine.
    nonblocking = True

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
        self._current: dict[_Key, _Entry] = {}
        self._previous: dict[_Key, _Entry] = {}
        self._current_bytes = 0
        self._previous_bytes = 0
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._current) + len(self._previous)

    @property
    def approx_bytes(self) -> int:
        """Memory held by the entries (an upper bound per entry; the key's length is irrelevant)."""
        return self._current_bytes + self._previous_bytes

    # claim() and complete() run once per event each: the lock is taken with acquire/release
    # (cheaper than ``with``), and claim() accounts for a new key inline.

    def claim(self, key: str, owner: str, ttl: float) -> bool:
        """Atomically claim ``key`` unless it is claimed or done and not expired."""
        stored = _stored_key(key)
        now = self._now()
        entry = (now + ttl, owner)
        lock = self._lock
        lock.acquire()
        try:
            current = self._current
            found = current.setdefault(stored, entry)
            if found is entry:  # a new key in the current generation (the common case)
                older = self._previous.get(stored)
                if older is not None and (older if isinstance(older, float) else older[0]) > now:
                    del current[stored]  # still live in the previous generation
                    return False
                self._current_bytes += _CLAIM_BYTES + len(owner)
                if len(current) >= self._half_entries or self._current_bytes >= self._half_bytes:
                    self._rotate()
                return True
            if (found if isinstance(found, float) else found[0]) > now:
                return False
            current[stored] = entry  # expired: taken over
            return True
        finally:
            lock.release()

    def complete(self, key: str, owner: str, ttl: float) -> None:
        """Remember ``key`` as handled for ``ttl`` seconds (unless someone else holds it now)."""
        stored = _stored_key(key)
        now = self._now()
        lock = self._lock
        lock.acquire()
        try:
            current = self._current
            entry = current.get(stored)
            grew = entry is None
            if grew:
                entry = self._previous.get(stored)
            if type(entry) is tuple and entry[0] > now and entry[1] != owner:
                return  # our claim expired and another delivery took over: it will settle
            current[stored] = now + ttl  # an older copy in the previous one is shadowed
            if grew:
                self._current_bytes += _DONE_BYTES
                if len(current) >= self._half_entries or self._current_bytes >= self._half_bytes:
                    self._rotate()
        finally:
            lock.release()

    def release(self, key: str, owner: str) -> None:
        """Forget ``owner``'s claim; a claim held by another owner, or a done key, stays."""
        stored = _stored_key(key)
        with self._lock:
            entry = self._current.get(stored)
            if entry is None:
                entry = self._previous.get(stored)
            if type(entry) is not tuple or entry[1] != owner:
                return
            # The bytes counted for it stay counted until its generation is dropped: an upper
            # bound, and never an undercount (a taken-over entry was counted as what it was).
            self._current.pop(stored, None)
            self._previous.pop(stored, None)

    async def aclaim(self, key: str, owner: str, ttl: float) -> bool:
        """:meth:`claim` for async callers (no I/O, so no thread hop)."""
        return self.claim(key, owner, ttl)

    async def acomplete(self, key: str, owner: str, ttl: float) -> None:
        """:meth:`complete` for async callers."""
        self.complete(key, owner, ttl)

    async def arelease(self, key: str, owner: str) -> None:
        """:meth:`release` for async callers."""
        self.release(key, owner)

    def _rotate(self) -> None:
        self._previous, self._previous_bytes = self._current, self._current_bytes
        self._current, self._current_bytes = {}, 0
