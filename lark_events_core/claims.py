"""Deduplication claims of handler calls: keys, owner tokens, claiming, settling, store errors.

A call *claims* its key before its handler runs and *settles* it when the handler has finished:
completed on success, released on failure (docs/delivery.md). The decisions (which key, what a
refused or failed claim answers) are shared; only the store calls differ between the sync and the
awaitable methods.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Literal

from . import _invoke
from ._log import logger, safe
from ._responses import STORE_UNAVAILABLE, SUCCESS
from .dedup import AsyncDedupStore, DedupStore, MemoryDedupStore
from .events.base import Event, Kind
from .handlers import HandlerCall
from .http import Response

if TYPE_CHECKING:
    from .observe import Observer

__all__ = ["Claims", "StoreErrorPolicy", "new_owner"]

# Enum members as module constants: a class attribute lookup on an Enum costs ~0.1 us,
# and these are read several times per request.
_CALLBACK = Kind.CALLBACK
_LEGACY_CARD = Kind.LEGACY_CARD

StoreErrorPolicy = Literal["process", "retry"]


class _Owners:
    """Claim owner tokens: a random prefix per process plus a counter (cheap, unique).

    The prefix is drawn again in a forked child, so gunicorn workers never share tokens.
    """

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        global _new_owner
        prefix = os.urandom(6).hex() + "-"  # not secrets: it imports random and base64
        counter = itertools.count(1)
        self.prefix = prefix

        def new() -> str:  # one per event: closure cells, no attribute lookups
            return prefix + str(next(counter))

        _new_owner = new


_new_owner: Callable[[], str]
_OWNERS = _Owners()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_OWNERS.reset)


def new_owner() -> str:
    """A claim owner token unique to this process (and to every forked child)."""
    return _new_owner()


class Claims:
    """Claims and settles the deduplication keys of handler calls in one store.

    ``on_error`` is the store-error policy: ``"process"`` handles the event anyway and logs,
    ``"retry"`` answers 503 so the platform re-pushes it.
    """

    __slots__ = (
        "_async_store",
        "by_message_id",
        "callbacks",
        "claim_ttl",
        "done_ttl",
        "inline",
        "local",
        "observer",
        "on_error",
        "store",
    )

    def __init__(
        self,
        store: DedupStore | None,
        *,
        by_message_id: bool,
        callbacks: bool,
        claim_ttl: float,
        done_ttl: float,
        on_error: StoreErrorPolicy,
    ) -> None:
        self.store = store
        self.by_message_id = by_message_id
        self.callbacks = callbacks
        self.claim_ttl = claim_ttl
        self.done_ttl = done_ttl
        self.on_error: StoreErrorPolicy = on_error
        self._async_store = isinstance(store, AsyncDedupStore)
        #: Told about duplicates and store failures (set by the dispatcher).
        self.observer: Observer | None = None
        #: The store never blocks (``MemoryDedupStore.nonblocking``): coroutines call the sync
        #: methods directly, with no coroutine object and no thread hop.
        self.inline = getattr(store, "nonblocking", False) is True
        # The in-memory store itself (not a subclass, whose methods may differ): a call that is
        # not deferred claims with hold() and settles with finish()/drop(), its token (a float
        # hold() makes) compared by identity, so no owner string is built. A deferred call may be
        # settled by another process (CeleryExecutor) from a copy of its token: it takes an owner
        # compared by value. The dispatcher holds and finishes with it itself on its hot path.
        self.local: MemoryDedupStore | None = store if type(store) is MemoryDedupStore else None

    def key(self, event: Event[Any]) -> str | None:
        """The deduplication key of ``event``, or ``None`` when it is not deduplicated."""
        state = event._s  # once per event: the state itself, not three property calls
        kind = state.kind
        if self.store is None or (
            (kind is _CALLBACK or kind is _LEGACY_CARD) and not self.callbacks
        ):
            return None
        header = state.header
        if self.by_message_id and state.type == "im.message.receive_v1":
            message = event.data.get("message")
            message_id = message.get("message_id") if isinstance(message, Mapping) else None
            if isinstance(message_id, str) and message_id:
                return f"lark:{header.app_id or '-'}:msg:{message_id}"
        event_id = header.event_id
        return f"lark:{header.app_id or '-'}:{event_id}" if event_id else None

    # -- claiming: ``None`` to go on, or the response that ends the request -------------------

    def claim(self, call: HandlerCall) -> Response | None:
        """Claim ``call``'s key from a thread."""
        store = self.store
        key = call.dedup_key
        if key is None or store is None:
            return None
        local = self.local
        owner: str | float | None
        try:
            if local is not None and not call.handler.deferred:
                owner = local.hold(key, self.claim_ttl)  # no owner to build: a token
            else:
                given = _new_owner()
                owner = given if store.claim(key, given, self.claim_ttl) else None
        except Exception:
            return self.failed(call, "claim")
        if owner is None:
            return self.duplicate(call)
        call.owner = owner
        return None

    async def aclaim(self, call: HandlerCall) -> Response | None:
        """Claim ``call``'s key from a coroutine; a sync-only store is called in a thread."""
        store = self.store
        key = call.dedup_key
        if key is None or store is None:
            return None
        if self.inline:
            return self.claim(call)
        owner = _new_owner()
        ttl = self.claim_ttl
        try:
            if self._async_store:
                claimed = await store.aclaim(key, owner, ttl)  # type: ignore[attr-defined]
            else:
                claimed = await _invoke.call_async(lambda k: store.claim(k, owner, ttl), False, key)
        except Exception:
            return self.failed(call, "claim")
        if claimed:
            call.owner = owner
            return None
        return self.duplicate(call)

    def duplicate(self, call: HandlerCall) -> Response:
        """Log a delivery refused because its key is claimed or done; it is answered 200."""
        logger.info(
            "duplicate of %s ignored (event_id=%s)",
            safe(call.event.type),
            safe(call.event.event_id),
        )
        call.outcome = "duplicate"
        return SUCCESS

    def failed(self, call: HandlerCall, action: str) -> Response | None:
        """Log a store failure; the response the policy answers (``None``: handle anyway)."""
        logger.error(
            "deduplication store failed to %s (event_id=%s); policy %r",
            action,
            safe(call.event.event_id),
            self.on_error,
            exc_info=True,
        )
        if self.observer is not None:
            self.observer.store_error(action)
        return STORE_UNAVAILABLE if self.on_error == "retry" else None

    # -- settling: complete on success, release on failure; errors are logged, not raised ----

    def settle(self, call: HandlerCall, *, ok: bool) -> None:
        """Complete (``ok``) or release ``call``'s claim from a thread."""
        store = self.store
        owner = call.owner
        key = call.dedup_key
        if owner is None or store is None or key is None:
            return
        local = self.local
        try:
            if local is not None and not call.handler.deferred:  # claimed with hold()
                if ok:
                    local.finish(key, owner, self.done_ttl)
                else:
                    local.drop(key, owner)
            elif isinstance(owner, str):  # claimed with claim(): an owner compared by value
                if ok:
                    store.complete(key, owner, self.done_ttl)
                else:
                    store.release(key, owner)
        except Exception:
            self.failed(call, "complete" if ok else "release")

    async def asettle(self, call: HandlerCall, *, ok: bool) -> None:
        """Complete or release ``call``'s claim from a coroutine."""
        store = self.store
        owner = call.owner
        key = call.dedup_key
        if owner is None or store is None or key is None:
            return
        if self.inline:
            self.settle(call, ok=ok)
            return
        if not self._async_store:
            await _invoke.call_async(lambda _: self.settle(call, ok=ok), False, None)
            return
        try:
            if ok:
                await store.acomplete(key, owner, self.done_ttl)  # type: ignore[attr-defined]
            else:
                await store.arelease(key, owner)  # type: ignore[attr-defined]
        except Exception:
            self.failed(call, "complete" if ok else "release")
