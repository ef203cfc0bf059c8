"""The long-connection client: receive events over the platform's WebSocket, asyncio-native.

One client is one connection of one app. ``run()`` bootstraps, connects, pings, hands every event
to the dispatcher concurrently with the read loop, acknowledges it, and reconnects on any loss
until :meth:`LongConnectionClient.stop` or a :class:`StopError`. Nothing is global: several
clients can run in one process and one event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import os
import random
import socket
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

import aiohttp

from .. import _json
from .._log import safe as _safe
from .._secrets import Secret
from ..dispatcher import Dispatcher
from ..health import Check
from ._aio import within
from ._ratelimit import RateLimitedLog
from .bootstrap import FEISHU_DOMAIN, Endpoint, fetch_endpoint, resolve_domain
from .config import ClientConfig
from .delivery import Target, dispatcher_target
from .errors import ConnectionLost, ReconnectExhausted, RetryableError, StopError
from .frames import METHOD_CONTROL, Frame, encode
from .handshake import open_websocket
from .receiver import Receiver

__all__ = ["LongConnectionClient"]

logger = logging.getLogger("lark_events.longconn")

USER_AGENT = "lark-events-longconn/0.1"

Hook = Callable[..., Any]


class _Connection:
    """One open WebSocket and its per-connection state."""

    __slots__ = ("endpoint", "paused", "ping", "sock", "unanswered_since", "ws")

    def __init__(self, ws: aiohttp.ClientWebSocketResponse, endpoint: Endpoint) -> None:
        self.ws = ws
        self.sock: Any = ws.get_extra_info("socket")
        self.endpoint = endpoint
        self.unanswered_since: float | None = None
        self.paused = False  # not reading (max_in_flight): unread pongs are not a dead peer
        self.ping = encode(Frame(0, 0, endpoint.service_id, METHOD_CONTROL, (("type", "ping"),)))


class LongConnectionClient:
    """Receive an app's events and callbacks over the long connection.

    ``target`` is a :class:`~lark_events_core.Dispatcher` (its handlers run as for webhooks) or
    any ``async (Delivery) -> Reply`` function. Use it as ``async with client:`` (runs in the
    background), ``await client.run()`` (returns on :meth:`stop`, raises a :class:`StopError`),
    or ``client.start()`` from a script.

    ``liveness_timeout``: reconnect when no frame arrives this many seconds after a ping
    (``None`` disables the watchdog). ``max_in_flight``: with that many handlers running, stop
    reading until one finishes (backpressure instead of unbounded tasks). Hooks may be plain or
    async functions: ``on_connected()``, ``on_disconnected(error_or_None)``,
    ``on_reconnecting(attempt)``.
    """

    def __init__(
        self,
        target: Dispatcher | Target,
        *,
        app_id: str,
        app_secret: str | Secret,
        domain: str = FEISHU_DOMAIN,
        config: ClientConfig | None = None,
        request_timeout: float = 10.0,
        connect_timeout: float = 10.0,
        send_timeout: float = 10.0,
        close_timeout: float = 2.0,
        liveness_timeout: float | None = 10.0,
        fragment_ttl: float = 5.0,
        max_in_flight: int = 1024,
        on_connected: Hook | None = None,
        on_disconnected: Hook | None = None,
        on_reconnecting: Hook | None = None,
        user_agent: str = USER_AGENT,
    ) -> None:
        if not app_id or not app_secret:
            raise ValueError("app_id and app_secret are required")
        self.app_id = app_id
        self._secret = app_secret if isinstance(app_secret, Secret) else Secret(app_secret)
        self.domain = resolve_domain(domain)  # "feishu", "lark" or a URL
        self.config = config or ClientConfig()
        self.request_timeout = request_timeout
        self.connect_timeout = connect_timeout
        self.send_timeout = send_timeout
        self.close_timeout = close_timeout
        self.liveness_timeout = liveness_timeout
        self.on_connected = on_connected
        self.on_disconnected = on_disconnected
        self.on_reconnecting = on_reconnecting
        self.user_agent = user_agent
        self._garbage_log = RateLimitedLog(logger)
        # The dispatcher's observer hears when the connection goes up or down, and
        # Dispatcher.health() reports on this client.
        self._dispatcher = target if isinstance(target, Dispatcher) else None
        if self._dispatcher is not None:
            self._dispatcher.health_sources["long_connection"] = self.health
        self._receiver = Receiver(
            dispatcher_target(target) if isinstance(target, Dispatcher) else target,
            on_pong=self._apply_pong,
            fragment_ttl=fragment_ttl,
            max_in_flight=max_in_flight,
            garbage_log=self._garbage_log,
        )
        self._conn: _Connection | None = None
        self._inner: asyncio.Task[None] | None = None
        self._background: asyncio.Task[None] | None = None
        self._connected: asyncio.Event | None = None
        self._finished: asyncio.Event | None = None
        self._config_changed = asyncio.Event()
        self.error: BaseException | None = None
        self.connections = 0

    @classmethod
    def from_env(
        cls,
        target: Dispatcher | Target,
        environ: Mapping[str, str] | None = None,
        **kwargs: Any,
    ) -> LongConnectionClient:
        """Build from ``LARK_APP_ID``, ``LARK_APP_SECRET`` and optional ``LARK_DOMAIN``."""
        env = os.environ if environ is None else environ
        options: dict[str, Any] = {
            "app_id": env.get("LARK_APP_ID", ""),
            "app_secret": env.get("LARK_APP_SECRET", ""),
        }
        if env.get("LARK_DOMAIN"):
            options["domain"] = env["LARK_DOMAIN"]
        return cls(target, **{**options, **kwargs})

    def __repr__(self) -> str:
        state = "connected" if self.connected else "disconnected"
        return f"LongConnectionClient(app_id={self.app_id!r}, domain={self.domain!r}, {state})"

    @property
    def connected(self) -> bool:
        """Whether a connection is open right now."""
        return self._conn is not None

    def health(self) -> Check:
        """Whether the long connection is up (for :meth:`Dispatcher.health`)."""
        if self._conn is not None:
            return Check("long_connection", True, "connected")
        if self._finished is not None and self._finished.is_set():
            return Check("long_connection", False, "stopped")
        return Check("long_connection", False, "not connected (reconnecting)")

    @property
    def device_id(self) -> str | None:
        """The platform's id of the current connection."""
        return self._conn.endpoint.device_id if self._conn is not None else None

    # -- lifecycle ------------------------------------------------------------------------------

    async def run(self) -> None:
        """Connect and serve until :meth:`stop` (returns) or a :class:`StopError` (raised)."""
        if self._inner is not None:
            raise RuntimeError("this client is already running")
        self.error = None
        self._connected = asyncio.Event()
        self._finished = asyncio.Event()
        self._config_changed = asyncio.Event()
        self._receiver.reset()
        inner = asyncio.create_task(self._serve(), name=f"lark-longconn-{self.app_id}")
        self._inner = inner
        try:
            try:
                await asyncio.wait({inner})
            except asyncio.CancelledError:
                inner.cancel()
                await asyncio.wait({inner})
                raise
            error = None if inner.cancelled() else inner.exception()
            if error is not None:
                self.error = error
                raise error
        finally:
            self._inner = None
            self._finished.set()

    def start(self) -> None:
        """Run in a fresh event loop until stopped (blocking; for scripts). Ctrl-C stops it."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            pass
        else:
            raise RuntimeError(
                "start() blocks; inside a running event loop use 'await client.run()' "
                "or 'async with client:'"
            )
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(self.run())

    def start_background(self) -> asyncio.Task[None]:
        """Run in a task of the current loop (from a startup hook); end it with :meth:`stop`."""
        if self._background is not None and not self._background.done():
            raise RuntimeError("this client is already running")
        task = asyncio.create_task(self.run(), name=f"lark-longconn-run-{self.app_id}")
        task.add_done_callback(_retrieve)
        self._background = task
        return task

    async def stop(self, timeout: float = 5.0) -> None:
        """Stop: wait up to ``timeout`` s for running handlers (and their acks), then cancel all.

        Safe to call more than once, from any task of the client's loop, running or not.
        """
        self._drain_timeout = timeout
        current = asyncio.current_task()
        inner = self._inner
        if inner is not None and not inner.done():
            inner.cancel()
            if inner is current:  # stop() from a hook: the cancellation ends this task
                return
            await asyncio.wait({inner})
        background = self._background
        if background is not None and background is not current:
            await asyncio.wait({background})

    async def wait_connected(self, timeout: float | None = None) -> None:
        """Wait until a connection is open; raises the client's error if it ended first."""
        if self._connected is None or self._finished is None:
            raise RuntimeError("the client is not running")
        waiters = {
            asyncio.ensure_future(self._connected.wait()),
            asyncio.ensure_future(self._finished.wait()),
        }
        try:
            done, _ = await asyncio.wait(
                waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            for waiter in waiters:
                waiter.cancel()
            await asyncio.gather(*waiters, return_exceptions=True)
        if self._connected.is_set():
            return
        if not done:
            raise asyncio.TimeoutError("not connected in time")
        if self.error is not None:
            raise self.error
        raise RuntimeError("the client stopped before it connected")

    async def __aenter__(self) -> LongConnectionClient:
        self.start_background()
        await asyncio.sleep(0)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()
        background, self._background = self._background, None
        if exc_info[0] is None and background is not None and not background.cancelled():
            error = background.exception()
            if error is not None:
                raise error

    async def cleanup_ctx(self, app: object) -> AsyncIterator[None]:
        """For ``aiohttp_app.cleanup_ctx.append(client.cleanup_ctx)``: run while the app runs."""
        async with self:
            yield

    # -- the connection loop ----------------------------------------------------------------------

    _drain_timeout: float = 5.0

    async def _serve(self) -> None:
        timeout = aiohttp.ClientTimeout(total=None, connect=self.connect_timeout)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            try:
                first = True
                while True:
                    conn = await self._connect_with_retries(session, first=first)
                    first = False
                    reason: BaseException | None = None
                    try:
                        await self._session(conn)
                    except RetryableError as exc:
                        reason = exc
                        logger.warning("long connection lost: %s; reconnecting", exc)
                    except asyncio.CancelledError:
                        # The socket is still open: running handlers can still ack.
                        await self._receiver.drain(self._drain_timeout)
                        raise
                    finally:
                        await self._disconnect(conn, reason)
            except StopError as exc:
                logger.error("long connection stopped: %s", exc)
                raise
            finally:
                await self._receiver.drain(self._drain_timeout)

    async def _connect_with_retries(
        self, session: aiohttp.ClientSession, *, first: bool
    ) -> _Connection:
        nonce = self.config.reconnect_nonce
        delay = random.uniform(0, nonce) if not first and nonce > 0 else 0.0
        attempt = 0
        while True:
            attempt += 1
            if not first or attempt > 1:
                await self._hook(self.on_reconnecting, attempt)
            if delay > 0:
                await asyncio.sleep(delay)
            try:
                return await self._connect_once(session)
            except RetryableError as exc:
                logger.warning("long connection attempt %d failed: %s", attempt, exc)
                count = self.config.reconnect_count
                if 0 <= count <= attempt:
                    raise ReconnectExhausted(attempt, exc) from None
            delay = self.config.reconnect_interval

    async def _connect_once(self, session: aiohttp.ClientSession) -> _Connection:
        endpoint = await fetch_endpoint(
            session,
            self.domain,
            self.app_id,
            self._secret,
            timeout=self.request_timeout,
            user_agent=self.user_agent,
        )
        self.config = self.config.updated(endpoint.client_config)
        ws = await open_websocket(
            session,
            endpoint,
            timeout=self.connect_timeout,
            close_timeout=self.close_timeout,
            user_agent=self.user_agent,
        )
        conn = _Connection(ws, endpoint)
        self._conn = conn
        self._receiver.ws = ws
        self.connections += 1
        logger.info(
            "long connection open (app_id=%s, device_id=%s)", self.app_id, _safe(endpoint.device_id)
        )
        assert self._connected is not None
        self._connected.set()
        if self._dispatcher is not None and self._dispatcher.observer is not None:
            self._dispatcher.observer.connection_changed(True)
        await self._hook(self.on_connected)
        return conn

    async def _disconnect(self, conn: _Connection, reason: BaseException | None) -> None:
        if self._conn is conn:
            self._conn = None
            self._receiver.ws = None
        if self._connected is not None:
            self._connected.clear()
        if self._dispatcher is not None and self._dispatcher.observer is not None:
            self._dispatcher.observer.connection_changed(False)
        await self._close(conn)
        logger.info("long connection closed (device_id=%s)", _safe(conn.endpoint.device_id))
        await self._hook(self.on_disconnected, reason)

    async def _close(self, conn: _Connection) -> None:
        """Close within ``close_timeout``, then shut the socket down.

        A peer that stopped reading leaves our writes (acks) waiting for buffer space, and a
        graceful transport close waits for that buffer to drain forever. Shutting the socket
        down makes those writes fail at once and frees the connection; after a clean close the
        socket is closed already and this does nothing.
        """
        with contextlib.suppress(Exception):
            await within(conn.ws.close(), self.close_timeout)
        if conn.sock is not None:
            with contextlib.suppress(OSError):
                conn.sock.shutdown(socket.SHUT_RDWR)

    async def _session(self, conn: _Connection) -> None:
        """Read and keep alive until either fails; always raises (:class:`ConnectionLost`)."""
        reader = asyncio.create_task(self._read_loop(conn))
        keeper = asyncio.create_task(self._keepalive(conn))
        try:
            done, _ = await asyncio.wait({reader, keeper}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (reader, keeper):
                task.cancel()
            await asyncio.wait({reader, keeper})
        for task in done:
            error = None if task.cancelled() else task.exception()
            if error is not None:
                raise error
        raise ConnectionLost("connection ended")

    async def _read_loop(self, conn: _Connection) -> None:
        ws = conn.ws
        receiver = self._receiver
        while True:
            msg = await ws.receive()
            if msg.type is aiohttp.WSMsgType.BINARY:
                conn.unanswered_since = None
                receiver.on_frame(msg.data)
                if receiver.full:  # backpressure: stop reading until a handler finishes
                    conn.paused = True
                    try:
                        await receiver.room()
                    finally:
                        conn.paused = False
                        conn.unanswered_since = None
            elif msg.type in (
                aiohttp.WSMsgType.CLOSE,
                aiohttp.WSMsgType.CLOSING,
                aiohttp.WSMsgType.CLOSED,
            ):
                raise ConnectionLost(f"closed by the server (code {ws.close_code})")
            elif msg.type is aiohttp.WSMsgType.ERROR:
                raise ConnectionLost(f"read error ({type(msg.data).__name__})")
            else:
                self._garbage_log.warning("text", "ignored a non-binary WebSocket message")

    async def _keepalive(self, conn: _Connection) -> None:
        """Ping at once and every ``PingInterval``; the watchdog raises when pings go unanswered."""
        loop = asyncio.get_running_loop()
        last_ping: float | None = None
        while True:
            now = loop.time()
            next_ping = now if last_ping is None else last_ping + self.config.ping_interval
            if now >= next_ping:
                # Set before sending: any frame read after this point answers the ping.
                if conn.unanswered_since is None:
                    conn.unanswered_since = now
                try:
                    await within(conn.ws.send_bytes(conn.ping), self.send_timeout)
                except (asyncio.TimeoutError, aiohttp.ClientError, OSError, RuntimeError):
                    raise ConnectionLost("ping could not be sent") from None
                last_ping = now
                next_ping = now + self.config.ping_interval
            wake = next_ping
            if conn.paused:  # we are not reading: an unread pong proves nothing
                conn.unanswered_since = None
            if self.liveness_timeout is not None and conn.unanswered_since is not None:
                deadline = conn.unanswered_since + self.liveness_timeout
                if now >= deadline:
                    raise ConnectionLost(
                        f"no frame within {self.liveness_timeout:g}s after a ping (watchdog)"
                    )
                wake = min(wake, deadline)
            # A pong may change PingInterval: wake up then to reschedule.
            self._config_changed.clear()
            with contextlib.suppress(asyncio.TimeoutError):
                await within(self._config_changed.wait(), max(wake - now, 0.0))

    def _apply_pong(self, payload: bytes) -> None:
        try:
            raw = _json.loads(payload)
        except _json.JSONDecodeError:
            self._garbage_log.warning("pong", "ignored a pong whose payload is not JSON")
            return
        config = self.config.updated(raw)
        if config != self.config:
            self.config = config
            self._config_changed.set()

    async def _hook(self, hook: Hook | None, *args: Any) -> None:
        if hook is None:
            return
        try:
            result = hook(*args)
            if inspect.isawaitable(result):
                await result
        except Exception:
            logger.exception("a long-connection hook raised")


def _retrieve(task: asyncio.Task[None]) -> None:
    """Mark a background run's exception as retrieved (it is logged and kept on the client)."""
    if not task.cancelled():
        task.exception()
