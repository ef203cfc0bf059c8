"""A known mix of requests (valid, duplicate, bad signature, unknown type, failing handler,
deferred), and the counts each observer must report for it."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from typing import Any

from lark_events_core import Dispatcher, Event, Request
from lark_events_core.observe import Observer
from lark_events_core.signature import HEADER_SIGNATURE
from lark_events_core.testing import make_event, sign_event

KEY = "k-observe-test-encrypt-key"
TOKEN = "t-observe-test-verification-token"


def event_request(event_type: str, event_id: str, *, key: str = KEY) -> Request:
    """An encrypted, signed v2 event of ``event_type``."""
    req = sign_event(
        make_event(event_type, {"x": 1}, token=TOKEN, event_id=event_id), encrypt_key=key
    )
    return Request.build("POST", req.headers, req.body)


def register(dispatcher: Dispatcher) -> None:
    """``im.message.receive_v1`` works, ``contact.user.created_v3`` fails, ``app_ticket``
    is deferred. In a process writing its spans to a file (``LARK_SPANS_FILE``), the message
    handler makes a span of its own (``user work``), as a handler calling a database would."""

    def ok(event: Event[Any]) -> None:
        return None

    if os.environ.get("LARK_SPANS_FILE"):
        from opentelemetry import trace

        def ok(event: Event[Any]) -> None:
            with trace.get_tracer("tests.observe").start_as_current_span("user work"):
                pass

    def fails(event: Event[Any]) -> None:
        raise RuntimeError("handler failure")

    dispatcher.on("im.message.receive_v1", ok)
    dispatcher.on("contact.user.created_v3", fails)
    dispatcher.on("app_ticket", ok, deferred=True)


MESSAGE = "im.message.receive_v1"
CARD = "card.action.trigger"

#: (caller, handler, mode): every place a handler attempt runs.
#: - inline: the caller's thread or task; a sync handler under an async caller in a worker
#:   thread, an async one under a sync caller on the background loop;
#: - pool: the dispatcher's own handler threads (``handler_threads=``);
#: - deferred: the thread pool (sync callers) or an asyncio task (async callers);
#: - guarded: a callback under a deadline, on the callback pool or in a task of its own.
CASES = [
    (caller, handler, mode)
    for mode in ("inline", "pool", "deferred", "guarded")
    for caller in ("sync", "async")
    for handler in ("sync", "async")
    if not (mode == "pool" and (caller, handler) != ("async", "sync"))
]


def dispatcher_for_mode(mode: str, observer: Observer) -> tuple[Dispatcher, str]:
    """A dispatcher whose handler attempts run where ``mode`` (of :data:`CASES`) says, and the
    event type to register (a card callback for ``guarded``; register it ``deferred`` for
    ``deferred``)."""
    options: dict[str, Any] = {"observers": [observer]}
    if mode == "pool":
        options["handler_threads"] = 2
    if mode == "guarded":
        options["callback_deadline"] = 30.0
    return Dispatcher(KEY, TOKEN, **options), CARD if mode == "guarded" else MESSAGE


def handle_and_drain(
    dispatcher: Dispatcher, request: Request, caller: str, check: Callable[[], None] | None = None
) -> int:
    """The status of ``request`` handled from a thread (``caller="sync"``) or a coroutine
    (``"async"``, in ``asyncio.run``), once the dispatcher's background work is drained;
    ``check()`` runs last, in the caller's thread or task."""
    if caller == "sync":
        status = dispatcher.handle(request).status
        dispatcher.close(5)
        if check is not None:
            check()
        return status

    async def main() -> int:
        status = (await dispatcher.handle_async(request)).status
        await dispatcher.aclose(5)
        if check is not None:
            check()
        return status

    return asyncio.run(main())


def observers() -> list[Observer]:
    """A served app's observers: a TracingObserver when the process writes its spans to a file
    (``LARK_SPANS_FILE``, :mod:`tests.observe.spans_file`); metrics are added by the adapters."""
    if not os.environ.get("LARK_SPANS_FILE"):
        return []
    from lark_events_core.tracing import TracingObserver

    return [TracingObserver()]


def requests_of_the_mix() -> list[Request]:
    """3 accepted messages + 1 deferred, 2 duplicates, 2 bad signatures, 1 unknown type,
    1 failing handler."""
    out = [event_request("im.message.receive_v1", f"ev-ok-{i}") for i in range(3)]
    out.append(event_request("app_ticket", "ev-deferred-1"))
    out += [event_request("im.message.receive_v1", "ev-ok-0") for _ in range(2)]
    bad = sign_event(
        make_event("im.message.receive_v1", {}, token=TOKEN, event_id="ev-bad"), encrypt_key=KEY
    )
    headers = {**bad.headers, HEADER_SIGNATURE: "0" * 64}
    out += [Request.build("POST", headers, bad.body)] * 2
    out.append(event_request("vc.unknown.type_v9", "ev-unknown"))
    out.append(event_request("contact.user.created_v3", "ev-fail"))
    return out


#: What the mix must count, by outcome.
EXPECTED_OUTCOMES = {
    "accepted": 4,
    "duplicate": 2,
    "rejected": 2,
    "unhandled": 1,
    "handler_error": 1,
}
