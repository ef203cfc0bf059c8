"""What the client hands to a handler target, what it gets back, and the ack payload it sends.

A *target* is any ``async (Delivery) -> Reply`` function. :func:`dispatcher_target` makes one from
a :class:`~lark_events_core.Dispatcher`, so long-connection events reach the same handlers as
webhooks; ``lark-events forward`` uses a target that POSTs to a local webhook instead.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from ..dispatcher import Dispatcher
from ..http import Response

__all__ = ["Delivery", "Reply", "Target", "ack_payload", "dispatcher_target", "reply_from_response"]

logger = logging.getLogger("lark_events.longconn")

_SUCCESS_BODY = b'{"msg":"success"}'
_ACK_OK = b'{"code":200,"headers":null,"data":null}'
_ACK_FAILED = b'{"code":500,"headers":null,"data":null}'


@dataclass(frozen=True, slots=True)
class Delivery:
    """One event or callback received over the long connection (fragments already joined)."""

    payload: bytes
    frame_type: str
    message_id: str
    trace_id: str | None = None


@dataclass(frozen=True, slots=True)
class Reply:
    """The outcome to acknowledge: ``code`` 200 or 500, and a callback's JSON result."""

    code: int = 200
    data: bytes | None = None


Target = Callable[[Delivery], Awaitable[Reply]]

OK = Reply(200)
FAILED = Reply(500)


def ack_payload(reply: Reply) -> bytes:
    """``{"code":…,"headers":null,"data":…}`` with ``data`` the base64 of the JSON result."""
    if reply.data is None:
        if reply.code == 200:
            return _ACK_OK
        if reply.code == 500:
            return _ACK_FAILED
        return b'{"code":%d,"headers":null,"data":null}' % reply.code
    encoded = base64.b64encode(reply.data)
    return b'{"code":%d,"headers":null,"data":"%s"}' % (reply.code, encoded)


def reply_from_response(response: Response, *, callback: bool) -> Reply:
    """Map a dispatcher response to an ack.

    200 acknowledges (with the body as ``data`` for callbacks); 5xx asks for redelivery; a 4xx
    means the payload is not a Lark event, which no redelivery can fix, so it is acknowledged
    and logged.
    """
    if response.status == 200:
        return Reply(200, response.body) if callback else OK
    if response.status >= 500:
        return FAILED
    logger.error("long-connection payload rejected with %s; acknowledged", response.status)
    return OK


def dispatcher_target(dispatcher: Dispatcher) -> Target:
    """A target that runs ``dispatcher``'s handlers (async awaited, sync ones in a thread)."""

    async def deliver(delivery: Delivery) -> Reply:
        card_frame = delivery.frame_type == "card"
        request_id = delivery.trace_id or delivery.message_id
        # A card frame may hold a flat legacy card body: classify it as the card endpoint does.
        observer = dispatcher.observer
        if observer is not None:
            observer.frame_received()
        step = dispatcher.prepare_plaintext(
            delivery.payload, request_id=request_id, card=card_frame
        )
        if isinstance(step, Response):
            # Unhandled types: events get {"msg":"success"}, callbacks {} (sent as data).
            reply = reply_from_response(step, callback=card_frame or step.body != _SUCCESS_BODY)
        else:
            response = await dispatcher.run_async(step)
            reply = reply_from_response(response, callback=card_frame or step.handler.callback)
        if observer is not None:
            observer.ack_sent(reply.code)
        return reply

    return deliver
