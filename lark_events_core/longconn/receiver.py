"""Frames in, handler calls running beside the read loop, acks out (``LONG_CONNECTION.md`` §5)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

import aiohttp

from .._log import safe as _safe
from ._ratelimit import RateLimitedLog
from .delivery import FAILED, OK, Delivery, Reply, Target, ack_payload
from .fragments import Reassembler
from .frames import METHOD_CONTROL, METHOD_DATA, Frame, FrameError, decode, encode

__all__ = ["Receiver"]

logger = logging.getLogger("lark_events.longconn")

_DATA_TYPES = frozenset({"event", "card"})


class Receiver:
    """Turns data frames into tasks that call the target and acknowledge the result.

    Tasks outlive the connection they came on: an ack goes out on whatever connection is open
    (:attr:`ws`) when the handler finishes, as the official clients do. At most
    ``max_in_flight`` run at once; :attr:`full` tells the read loop to wait for :meth:`room`.
    """

    def __init__(
        self,
        target: Target,
        *,
        on_pong: Callable[[bytes], None],
        fragment_ttl: float,
        max_in_flight: int,
        garbage_log: RateLimitedLog | None = None,
    ) -> None:
        if max_in_flight < 1:
            raise ValueError("max_in_flight must be at least 1")
        self.target = target
        self.on_pong = on_pong
        self.max_in_flight = max_in_flight
        self.garbage_log = garbage_log or RateLimitedLog(logger)
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self._fragments = Reassembler(fragment_ttl)
        self._tasks: set[asyncio.Task[None]] = set()
        self._room = asyncio.Event()

    def reset(self) -> None:
        """Bind to the running loop afresh (a client may run again, in another loop)."""
        self._room = asyncio.Event()

    @property
    def in_flight(self) -> int:
        """Handler calls running now."""
        return len(self._tasks)

    @property
    def full(self) -> bool:
        """Whether ``max_in_flight`` handler calls are running."""
        return len(self._tasks) >= self.max_in_flight

    async def room(self) -> None:
        """Wait until fewer than ``max_in_flight`` handler calls run."""
        while self.full:
            self._room.clear()
            await self._room.wait()

    def on_frame(self, data: bytes) -> None:
        """Handle one binary message: a pong's settings, or a data frame's handler call."""
        try:
            frame = decode(data)
        except FrameError as exc:
            self.garbage_log.warning("invalid frame", "ignored an invalid frame: %s", exc)
            return
        if frame.method == METHOD_CONTROL:
            if frame.header("type") == "pong" and frame.payload:
                self.on_pong(frame.payload)
            return
        if frame.method != METHOD_DATA:
            self.garbage_log.warning("method", "ignored a frame with method %d", frame.method)
            return
        message_id = frame.header("message_id")
        if not message_id:
            self.garbage_log.warning("no message_id", "ignored a data frame without message_id")
            return
        payload = frame.payload or b""
        total = frame.header("sum") or "1"
        if total != "1":
            try:
                joined = self._fragments.add(
                    message_id, int(total), int(frame.header("seq") or "0"), payload
                )
            except ValueError:
                self.garbage_log.warning(
                    "fragment", "ignored a malformed fragment of %s", _safe(message_id)
                )
                return
            if joined is None:  # only the fragment that completes a message is acked
                return
            payload = joined
        task = asyncio.create_task(self._handle(frame, payload, message_id))
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not self.full:
            self._room.set()

    async def _handle(self, frame: Frame, payload: bytes, message_id: str) -> None:
        frame_type = frame.header("type") or "event"
        started = time.perf_counter()
        if frame_type in _DATA_TYPES:
            delivery = Delivery(payload, frame_type, message_id, frame.header("trace_id"))
            try:
                reply = await self.target(delivery)
            except Exception:
                logger.exception("long-connection target failed (message_id=%s)", _safe(message_id))
                reply = FAILED
        else:
            logger.info("acknowledged a data frame of unknown type %s", _safe(frame_type))
            reply = OK
        await self._ack(frame, reply, started)

    async def _ack(self, frame: Frame, reply: Reply, started: float) -> None:
        """Echo ``frame`` with every field and header, ``biz_rt`` appended, the reply as payload."""
        biz_rt = int((time.perf_counter() - started) * 1000)
        ack = Frame(
            frame.seq_id,
            frame.log_id,
            frame.service,
            frame.method,
            (*frame.headers, ("biz_rt", str(biz_rt))),
            ack_payload(reply),
            frame.payload_encoding,
            frame.payload_type,
            frame.log_id_new,
        )
        ws = self.ws
        if ws is None:
            logger.warning("ack of %s lost: not connected", _safe(frame.header("message_id")))
            return
        try:
            # No timer per ack (asyncio.timeout costs about a fifth of the per-event CPU): a send
            # only blocks when the peer stopped reading, and then the next ping goes unanswered
            # (watchdog) or cannot be sent (send_timeout); the client closes that connection, which
            # fails this send at once.
            await ws.send_bytes(encode(ack))
        except (aiohttp.ClientError, OSError, RuntimeError) as exc:
            logger.warning(
                "ack of %s lost: %s", _safe(frame.header("message_id")), type(exc).__name__
            )

    async def drain(self, timeout: float) -> None:
        """Give running handler calls ``timeout`` seconds (acks included), then cancel the rest."""
        pending = set(self._tasks)
        if not pending:
            return
        if timeout > 0:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait(pending, timeout=timeout)
        for task in pending:
            task.cancel()
        await asyncio.wait(pending)
