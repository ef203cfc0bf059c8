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
# (bytes never equal a str): either way an entry's key is at most a 128-byte memory block,
# whatever the key's length. Owners are kept the same way (they are only ever compared).
_KEY_CHARS = 64

# What one entry holds at most, in bytes of real memory (pymalloc hands out 16-byte multiples):
# its key (an ASCII str of at most 64 characters: 113 bytes, a 128-byte block; a digest: 49, a
# 64-byte block), its expiry (a float: 24, a 32-byte block) and its dict slot (at most 60 bytes
# per key held, just after the dict has grown: 64). A claim by an owner given by value adds the
# owner (kept like a key: 128) and its slot in the owners' dict (64); a claim by hold() has no
# owner: its expiry is its token.
# tests/delivery/test_memory_store.py checks both against tracemalloc, from above and below.
_DONE_BYTES = 128 + 32 + 64
_CLAIM_BYTES = 128 + 64  # on top of _DONE_BYTES, while the key is claimed by an owner

_Key = str | bytes


def _digest(key: str) -> bytes:
    # "surrogatepass": a lone surrogate (valid JSON "\ud800") must reach the store like any key.
    return blake2b(key.encode("utf-8", "surrogatepass"), digest_size=16).digest()


def _stored_key(key: str) -> _Key:
    return key if len(key) <= _KEY_CHARS and key.isascii() else _digest(key)


class MemoryDedupStore:
    """An in-process store, bounded in entries and in bytes, expiring by time.

    Right for one process. Several processes or hosts (gunicorn workers, long-connection clients in
    cluster mode, Celery workers) need a shared store such as
    :class:`lark_events_core.redis_store.RedisDedupStore`.

    A key longer than 64 characters, or not ASCII, is kept as a fixed-size digest (16 bytes of
    BLAKE2b), so an entry costs at most the same whatever the key's length: the byte bound is one
    of real memory. Every entry is a str or bytes key and a float: a done key's expiry, or a
    claim's expiry negated (``clock`` must return seconds >= 0, as ``time.monotonic`` does); the
    owners of claims made with :meth:`claim` are in a dict of their own. Objects and dicts the
    garbage collector never tracks, so a store of any size adds nothing to a collection.

    Entries live in two generations of plain dicts: new entries go to the current one; when it
    holds half the entry or byte bound it becomes the previous one and the old previous one is
    dropped whole. So memory never exceeds the bounds, eviction is O(1), and at least the
    ``max_entries / 2`` most recently written ids are always remembered (until they expire): a
    flood of new ids can shorten the retention of old ones but never grows memory.
    """

    __slots__ = (
        "_byte_units",
        "_current",
        "_half_entries",
        "_lock",
        "_now",
        "_owners",
        "_previous",
        "_room",
        "max_bytes",
        "max_entries",
    )

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
        # The byte bound in units of a done entry; a claim with an owner counts once more, and
        # _CLAIM_BYTES <= _DONE_BYTES, so current + owners below this is half the bytes at most.
        self._byte_units = max(1, max_bytes // 2 // _DONE_BYTES)
        self._now = time.monotonic if clock is None else clock
        # key -> the expiry of its done mark (> 0), or of its claim negated (< 0); the current
        # generation shadows the previous one. A claim made by claim() has its owner in _owners;
        # one made by hold() has none: the negated expiry itself (a float object made for that
        # claim) is its token, compared by identity.
        self._current: dict[_Key, float] = {}
        self._previous: dict[_Key, float] = {}
        self._owners: dict[_Key, _Key] = {}
        # How many more entries (new keys or owners) can be added before a bound can be reached:
        # counted down on each, the bounds are only computed again when it runs out.
        self._room = 0
        self._lock = threading.Lock()
        self._count_room()

    def __len__(self) -> int:
        return len(self._current) + len(self._previous)

    @property
    def approx_bytes(self) -> int:
        """Memory held by the entries (an upper bound per entry; the key's length is irrelevant)."""
        return len(self) * _DONE_BYTES + len(self._owners) * _CLAIM_BYTES

    # hold() and finish() run once per event each: their common case (a short ASCII key, new,
    # then settled by the caller that holds it, still in the current generation) takes one dict
    # operation or two under the lock and builds nothing but the token; every other case goes
    # through _take(), _done() and _forget(), which claim(), complete() and release() call too.
    # The lock is taken with acquire/release (cheaper than ``with``).

    def claim(self, key: str, owner: str, ttl: float) -> bool:
        """Atomically claim ``key`` unless it is claimed or done and not expired."""
        return self._take(_stored_key(key), -(self._now() + ttl), _stored_key(owner)) is not None

    def hold(self, key: str, ttl: float) -> float | None:
        """Claim ``key`` like :meth:`claim` for a caller in this process, with no owner to build.

        Returns the claim's token, or ``None`` when ``key`` is claimed or done. The token is a
        float made for this claim (its expiry, negated), compared by identity: settle the claim
        with :meth:`finish` or :meth:`drop`, passing that very object.
        """
        token = -(self._now() + ttl)
        if len(key) > _KEY_CHARS or not key.isascii():
            return self._take(_digest(key), token, None)
        lock = self._lock
        lock.acquire()
        try:
            current = self._current
            if current.setdefault(key, token) is token:
                if key not in self._previous:  # new: the common case
                    room = self._room - 1
                    self._room = room
                    if room <= 0:
                        self._fill()
                    return token
                del current[key]  # as it was, for _take() to decide
        finally:
            lock.release()
        return self._take(key, token, None)

    def _take(self, stored: _Key, token: float, held: _Key | None) -> float | None:
        # ``token`` is the new claim's value (its expiry negated); ``held`` its owner (None: the
        # token is, for hold()). A claim and a done mark are live while abs(value) > now.
        now = self._now()
        with self._lock:
            current = self._current
            found = current.setdefault(stored, token)
            if found is token:  # a new key in the current generation
                older = self._previous.get(stored)
                if older is not None and abs(older) > now:
                    del current[stored]  # still live in the previous generation
                    return None
            elif abs(found) > now:
                return None
            else:
                current[stored] = token  # expired: taken over
            owners = self._owners
            if held is None:
                owners.pop(stored, None)  # taken over from an owner: its claim is gone
            else:
                owners[stored] = held
            self._added()
            return token

    def complete(self, key: str, owner: str, ttl: float) -> None:
        """Remember ``key`` as handled for ``ttl`` seconds (unless someone else holds it now)."""
        self._done(_stored_key(key), None, _stored_key(owner), self._now() + ttl)

    def finish(self, key: str, token: object, ttl: float) -> None:
        """:meth:`complete` the claim whose ``token`` :meth:`hold` returned."""
        expiry = self._now() + ttl
        lock = self._lock
        lock.acquire()
        try:
            current = self._current
            # Only this claim's token is this object (never a key kept as a digest: those are
            # bytes); ``()`` as the default, so that no token matches a missing key.
            if current.get(key, ()) is token:  # still ours, in the current generation
                current[key] = expiry
                return
        finally:
            lock.release()
        self._done(_stored_key(key), token, None, expiry)

    def _done(self, stored: _Key, token: object, held: _Key | None, expiry: float) -> None:
        # The caller's claim is ``token`` (from hold(), compared by identity) or has the owner
        # ``held`` (compared by value). Another caller's live claim is left for it to settle.
        now = self._now()
        with self._lock:
            current = self._current
            value = current.get(stored)
            if value is None:
                value = self._previous.get(stored)
            owners = self._owners
            holder = owners.get(stored)
            ours = holder is not None and holder == held if held is not None else value is token
            if not ours and value is not None and value < 0 and -value > now:
                return  # our claim expired and another delivery took over: it will settle
            if holder is not None:
                del owners[stored]
            new = stored not in current
            current[stored] = expiry  # an older copy in the previous one is shadowed
            if new:
                self._added()

    def release(self, key: str, owner: str) -> None:
        """Forget ``owner``'s claim; a claim held by another owner, or a done key, stays."""
        self._forget(_stored_key(key), None, _stored_key(owner))

    def drop(self, key: str, token: object) -> None:
        """:meth:`release` the claim whose ``token`` :meth:`hold` returned."""
        self._forget(_stored_key(key), token, None)

    def _forget(self, stored: _Key, token: object, held: _Key | None) -> None:
        with self._lock:
            owners = self._owners
            current = self._current
            previous = self._previous
            if token is None:
                holder = owners.get(stored)
                if holder is None or holder != held:
                    return
                del owners[stored]
            elif current.get(stored, previous.get(stored)) is not token:
                return  # not this claim (done, released, or taken over)
            current.pop(stored, None)
            previous.pop(stored, None)

    async def aclaim(self, key: str, owner: str, ttl: float) -> bool:
        """:meth:`claim` for async callers (no I/O, so no thread hop)."""
        return self.claim(key, owner, ttl)

    async def acomplete(self, key: str, owner: str, ttl: float) -> None:
        """:meth:`complete` for async callers."""
        self.complete(key, owner, ttl)

    async def arelease(self, key: str, owner: str) -> None:
        """:meth:`release` for async callers."""
        self.release(key, owner)

    def _added(self) -> None:
        # One entry more (a key, an owner, or both: a claim); hold() counts down inline.
        self._room -= 1
        if self._room <= 0:
            self._fill()

    def _fill(self) -> None:
        # The room ran out: rotate if a bound is reached, then count the room left. A claim adds
        # a key and an owner, so the byte bound's room is counted in pairs (conservatively).
        size = len(self._current)
        if size >= self._half_entries or size + len(self._owners) >= self._byte_units:
            self._rotate()
        self._count_room()

    def _count_room(self) -> None:
        size = len(self._current)
        left = self._byte_units - size - len(self._owners)
        self._room = min(self._half_entries - size, (left + 1) // 2)

    def _rotate(self) -> None:
        previous = self._previous = self._current
        self._current = {}
        owners = self._owners
        if owners:  # the claims of the generation dropped go with it
            self._owners = {key: held for key, held in owners.items() if key in previous}
