"""A strict fake of the platform's long-connection side, for tests (needs the ``longconn`` extra).

It serves the bootstrap endpoint and the WebSocket on a real loopback port, checks every frame the
client sends as strictly as the real server (required protobuf fields, acks that echo the frame
with ``biz_rt`` and a JSON payload, within the deadline) and records what it saw::

    from lark_events_core.longconn import LongConnectionClient
    from lark_events_core.testing import make_event
    from lark_events_core.testing.fake_platform import FakePlatform

    async def test_message_is_acknowledged(dispatcher):
        async with FakePlatform() as platform:
            client = LongConnectionClient(
                dispatcher, app_id=platform.app_id, app_secret=platform.app_secret,
                domain=platform.domain,
            )
            async with client:
                await platform.wait_for_connections(1)
                pushed = await platform.push(make_event("im.message.receive_v1", {...}))
                ack = await pushed.ack()
                assert ack.code == 200
        platform.assert_no_violations()

It accepts every official client (Go ``oapi-sdk-go``, Node ``@larksuiteoapi/node-sdk``, Python
``lark-oapi``), since the real server does (``LONG_CONNECTION.md`` §9). What the real server
evidently tolerates but is not the protocol's canonical shape (no ``Content-Type`` on bootstrap, a
LogID rounded to a double, a negative ``biz_rt``, a 500 ack without ``biz_rt``, an ack echoing
another fragment of the message) is accepted and recorded in :attr:`FakePlatform.warnings`;
``strict=True`` counts those as violations too, to hold a client to the canonical shape.

Test controls: :meth:`FakePlatform.push` (whole or fragmented, any order; to a random connection
of the app, as in cluster mode; await :meth:`PushedMessage.ack` or register
:meth:`PushedMessage.add_ack_callback`), :meth:`FakeConnection.close` /
:meth:`FakeConnection.abort`, :meth:`FakeConnection.go_silent` (stop answering pings),
:meth:`FakePlatform.script_bootstrap` and :meth:`FakePlatform.refuse_handshakes` (each
documented error), ``max_connections`` (50).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
import random
import re
import secrets
import socket
import time
from collections import deque
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from .. import _extras

try:
    from aiohttp import WSMsgType, web
except ImportError as exc:
    _extras.missing_extra(exc, "longconn", __name__)

from ..longconn.config import ClientConfig
from ..longconn.frames import METHOD_CONTROL, METHOD_DATA, Frame, FrameError, decode, encode

__all__ = [
    "BAD_CREDENTIALS",
    "BAD_CREDENTIALS_CODE",
    "BUSY",
    "DEFAULT_APP_ID",
    "FORBIDDEN",
    "HTTP_UNAVAILABLE",
    "INTERNAL_ERROR",
    "TEST_CLIENT_CONFIG",
    "TOO_MANY_CONNECTIONS",
    "Ack",
    "BootstrapAnswer",
    "FakeConnection",
    "FakePlatform",
    "HandshakeRefusal",
    "PushedMessage",
]

#: The code the fake answers for an unknown app or a wrong secret (a stop-type error).
BAD_CREDENTIALS_CODE = 10014
#: Fast settings for tests, in whole seconds as the real endpoint sends them (the Go client cannot
#: decode fractions): ping every second, retry a failed attempt after a second, no jitter.
TEST_CLIENT_CONFIG = ClientConfig(
    reconnect_count=-1, reconnect_interval=1, reconnect_nonce=0, ping_interval=1
)
#: A realistic app id: ``cli_`` and 16 hex digits (the Node SDK refuses to start with any other).
DEFAULT_APP_ID = "cli_a1b2c3d4e5f60718"
_BIZ_RT = re.compile(r"-?[0-9]{1,18}")
#: Linux's TCP_CORK (``None`` elsewhere: frames then go out one segment each, as before).
_TCP_CORK: int | None = getattr(socket, "TCP_CORK", None)


@dataclass(frozen=True, slots=True)
class BootstrapAnswer:
    """A scripted answer of the bootstrap endpoint (``status`` != 200 or ``code`` != 0)."""

    status: int = 200
    code: int = 0
    msg: str = "ok"
    delay: float = 0.0


#: Retryable: system busy.
BUSY = BootstrapAnswer(code=1, msg="system busy")
#: Retryable: internal error.
INTERNAL_ERROR = BootstrapAnswer(code=1000040343, msg="internal error")
#: Retryable: an HTTP error status.
HTTP_UNAVAILABLE = BootstrapAnswer(status=503, code=0, msg="unavailable")
#: Stop: the credentials are wrong.
BAD_CREDENTIALS = BootstrapAnswer(code=BAD_CREDENTIALS_CODE, msg="app secret invalid")


@dataclass(frozen=True, slots=True)
class HandshakeRefusal:
    """A refused WebSocket upgrade, with the platform's ``Handshake-*`` headers."""

    status: int
    auth_code: int | None = None
    message: str = "refused"


#: Stop: the app already has the maximum number of connections.
TOO_MANY_CONNECTIONS = HandshakeRefusal(514, 1000040350, "exceed connection limit")
#: Stop: forbidden.
FORBIDDEN = HandshakeRefusal(403, None, "forbidden")


@dataclass(frozen=True, slots=True)
class Ack:
    """An acknowledgement the client sent, as checked and decoded by the fake."""

    message_id: str
    code: int
    data: Any
    biz_rt: int | None
    frame: Frame
    connection_id: str
    latency: float
    late: bool
    payload: Any


class PushedMessage:
    """An event the fake sent; :meth:`ack` waits for its acknowledgement.

    :meth:`add_ack_callback` is the callback form, for a driver that keeps many messages in
    flight without a task and a timer per wait.
    """

    def __init__(self, message_id: str, app_id: str, connection: FakeConnection) -> None:
        self.message_id = message_id
        self.app_id = app_id
        self.connection = connection
        self.frames: list[Frame] = []
        self.pushed_at = time.monotonic()
        self._future: asyncio.Future[Ack] = asyncio.get_running_loop().create_future()
        self._callbacks: list[Callable[[Ack], object]] = []

    def add_ack_callback(self, callback: Callable[[Ack], object]) -> None:
        """Call ``callback(ack)`` once the ack has arrived (soon, if it already has).

        It runs from the event loop like an :mod:`asyncio` future's callback, after the fake has
        checked and recorded the ack (a violation is in :attr:`FakePlatform.violations` by then;
        ``ack.code`` and ``ack.late`` are the callback's to look at). It is never called if no
        ack comes: the caller keeps its own deadline. An exception it raises goes to the loop's
        exception handler, as for any callback.
        """
        future = self._future
        if future.done():
            if not future.cancelled():
                future.get_loop().call_soon(callback, future.result())
        else:
            self._callbacks.append(callback)

    @property
    def acked(self) -> bool:
        """Whether an ack arrived."""
        return self._future.done()

    async def ack(self, timeout: float = 5.0) -> Ack:
        """Wait up to ``timeout`` seconds for the ack (:class:`TimeoutError` if none came)."""
        future = self._future
        if not future.done():
            # Not asyncio.wait (its sets and closures per call were a fifth of the fake's profile
            # samples per event): one waiter woken by the ack or by the timer. The ack's own
            # future is never cancelled by a timeout, so ack() can be awaited again.
            waiter = future.get_loop().create_future()
            wake = partial(_wake, waiter)
            timer = waiter.get_loop().call_later(timeout, wake)
            future.add_done_callback(wake)
            try:
                await waiter
            finally:
                timer.cancel()
                future.remove_done_callback(wake)
            if not future.done():
                raise TimeoutError(f"no ack for {self.message_id} within {timeout}s")
        return future.result()

    def _resolve(self, ack: Ack) -> None:
        future = self._future
        if not future.done():
            future.set_result(ack)
            if self._callbacks:
                call_soon = future.get_loop().call_soon
                for callback in self._callbacks:
                    call_soon(callback, ack)
                self._callbacks.clear()


def _wake(waiter: asyncio.Future[None], *_: object) -> None:
    if not waiter.done():
        waiter.set_result(None)


class FakeConnection:
    """One client connection as the fake sees it."""

    def __init__(
        self,
        app_id: str,
        device_id: str,
        service_id: int,
        ws: web.WebSocketResponse,
        request: web.Request,
    ) -> None:
        self.app_id = app_id
        self.id = device_id
        self.service_id = service_id
        self.ws = ws
        self._request = request
        self.pings = 0
        self.silent = False
        self.open = True
        self.delivered: list[PushedMessage] = []
        self._burst: bool | None = None  # None: nothing pushed in this loop iteration yet
        self._corked: Any = None  # the socket while corked

    def __repr__(self) -> str:
        return f"FakeConnection(app_id={self.app_id!r}, id={self.id!r}, open={self.open})"

    def _before_send(self) -> None:
        """Cork from the second frame pushed in one loop iteration on (TCP_CORK, Linux).

        The first frame goes out at once, as before; the rest of a burst waits in the kernel and
        goes out as one at the next iteration. The frames and their bytes are the same, only
        the TCP segments carrying them are fewer (a corked ``send`` costs about half of one that
        transmits). The kernel sends what it holds on uncork and on close: nothing is lost or
        reordered.
        """
        if self._burst is None:
            self._burst = False
            asyncio.get_running_loop().call_soon(self._end_burst)
        elif not self._burst:
            self._burst = True
            self._corked = self._cork_socket()

    def _cork_socket(self) -> Any:
        transport = self._request.transport
        if _TCP_CORK is None or transport is None or transport.is_closing():
            return None
        sock = transport.get_extra_info("socket")
        try:
            sock.setsockopt(socket.IPPROTO_TCP, _TCP_CORK, 1)
        except (AttributeError, OSError):
            return None
        return sock

    def _end_burst(self) -> None:
        self._burst = None
        sock, self._corked = self._corked, None
        if sock is not None and _TCP_CORK is not None:
            with contextlib.suppress(OSError):  # closed meanwhile: the kernel sent what it held
                sock.setsockopt(socket.IPPROTO_TCP, _TCP_CORK, 0)

    def go_silent(self) -> None:
        """Stop answering pings (and sending anything), as a dead NAT mapping would."""
        self.silent = True

    def resume(self) -> None:
        """Answer pings again (and read again after :meth:`stop_reading`)."""
        self.silent = False
        transport = self._request.transport
        if transport is not None and not transport.is_closing():
            transport.resume_reading()

    def stop_reading(self) -> None:
        """Stop reading from the socket, so the client's writes back up (a stalled peer)."""
        transport = self._request.transport
        if transport is not None:
            transport.pause_reading()

    async def close(self, code: int = 1000) -> None:
        """Close cleanly with a WebSocket close frame."""
        await self.ws.close(code=code)

    def abort(self) -> None:
        """Drop the TCP connection without a close frame."""
        transport = self._request.transport
        if transport is not None:
            transport.abort()


@dataclass
class _App:
    secret: str
    connections: list[FakeConnection] = field(default_factory=list)


class FakePlatform:
    """The long-connection side of the platform on ``127.0.0.1``, strict and scriptable.

    ``client_config`` is sent on bootstrap (fast test settings by default) and is the payload of
    every pong, unless ``pong_config`` replaces it or ``empty_pongs`` leaves pongs without one.
    ``violations`` lists every protocol error a client made; ``warnings`` what the real server
    tolerates but the protocol does not describe (also violations when ``strict``). LogIDs are
    drawn with ``log_id_bits`` bits: the default 53 keeps them exact in a double, 64 shows how a
    client that decodes them as one (Node) fares.
    """

    def __init__(
        self,
        *,
        app_id: str = DEFAULT_APP_ID,
        app_secret: str = "fake-app-secret",  # noqa: S107 - a fake's test credential
        apps: Mapping[str, str] | None = None,
        client_config: ClientConfig | Mapping[str, Any] | None = None,
        pong_config: ClientConfig | Mapping[str, Any] | None = None,
        empty_pongs: bool = False,
        strict: bool = False,
        log_id_bits: int = 53,
        max_connections: int = 50,
        ack_deadline: float = 3.0,
        seed: int | None = None,
        host: str = "127.0.0.1",
    ) -> None:
        self.app_id = app_id
        self.app_secret = app_secret
        self._apps = {app_id: _App(app_secret)}
        for other_id, other_secret in (apps or {}).items():
            self._apps[other_id] = _App(other_secret)
        self.client_config = client_config if client_config is not None else TEST_CLIENT_CONFIG
        self.pong_config = pong_config
        self.empty_pongs = empty_pongs
        self.strict = strict
        if not 8 <= log_id_bits <= 64:
            raise ValueError("log_id_bits must be between 8 and 64")
        self.log_id_bits = log_id_bits
        self.max_connections = max_connections
        self.ack_deadline = ack_deadline
        self.host = host
        self.instance_id = secrets.token_hex(4)
        self.violations: list[str] = []
        self.warnings: list[str] = []
        self.acks: list[Ack] = []
        self.bootstrap_requests = 0
        self.handshakes = 0
        self.tickets_issued: list[str] = []
        self._rng = random.Random(seed)
        self._tickets: dict[str, tuple[str, str, int]] = {}
        self._bootstrap_script: deque[BootstrapAnswer] = deque()
        self._handshake_script: deque[HandshakeRefusal] = deque()
        self._pending: dict[str, PushedMessage] = {}
        self._seq = 0
        self._runner: web.AppRunner | None = None
        self.port = 0

    # -- lifecycle --------------------------------------------------------------------------

    async def start(self) -> FakePlatform:
        """Listen on a free port."""
        app = web.Application()
        app.router.add_post("/callback/ws/endpoint", self._bootstrap)
        app.router.add_get("/ws/v2", self._websocket)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        site = web.TCPSite(runner, self.host, 0)
        await site.start()
        self._runner = runner
        self.port = int(runner.addresses[0][1])
        return self

    async def close(self) -> None:
        """Close every connection and stop listening."""
        for conn in self.connections_all():
            with contextlib.suppress(Exception):
                await asyncio.wait_for(conn.ws.close(code=1001), 1.0)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        for pushed in self._pending.values():
            pushed._future.cancel()

    async def __aenter__(self) -> FakePlatform:
        return await self.start()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    @property
    def domain(self) -> str:
        """What to pass as a client's ``domain``."""
        return f"http://{self.host}:{self.port}"

    # -- scripting ----------------------------------------------------------------------------

    def script_bootstrap(self, *answers: BootstrapAnswer) -> None:
        """Answer the next bootstrap requests with ``answers``, in order."""
        self._bootstrap_script.extend(answers)

    def refuse_handshakes(self, *refusals: HandshakeRefusal) -> None:
        """Refuse the next WebSocket upgrades with ``refusals``, in order."""
        self._handshake_script.extend(refusals)

    def assert_no_violations(self) -> None:
        """Fail with the list of protocol errors, if any."""
        if self.violations:
            raise AssertionError("protocol violations:\n" + "\n".join(self.violations))

    def assert_no_warnings(self) -> None:
        """Fail with the list of tolerated deviations, if any (the canonical shape only)."""
        if self.warnings:
            raise AssertionError("tolerated deviations:\n" + "\n".join(self.warnings))

    def _tolerate(self, warning: str) -> None:
        self.warnings.append(warning)
        if self.strict:
            self.violations.append(warning)

    # -- connections --------------------------------------------------------------------------

    def connections(self, app_id: str | None = None) -> list[FakeConnection]:
        """The open connections of ``app_id`` (the default app when omitted)."""
        return list(self._apps[app_id or self.app_id].connections)

    def connections_all(self) -> list[FakeConnection]:
        """The open connections of every app."""
        return [conn for app in self._apps.values() for conn in app.connections]

    async def wait_until(
        self, predicate: Callable[[], bool], timeout: float = 5.0, what: str = "condition"
    ) -> None:
        """Poll ``predicate`` until it holds; :class:`TimeoutError` after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise TimeoutError(f"{what} not reached within {timeout}s")
            await asyncio.sleep(0.01)

    async def wait_for_connections(
        self, count: int, *, app_id: str | None = None, timeout: float = 5.0
    ) -> list[FakeConnection]:
        """Wait until ``app_id`` has exactly ``count`` open connections."""
        await self.wait_until(
            lambda: len(self.connections(app_id)) == count, timeout, f"{count} connections"
        )
        return self.connections(app_id)

    # -- pushing ------------------------------------------------------------------------------

    async def push(
        self,
        payload: Mapping[str, Any] | bytes,
        *,
        app_id: str | None = None,
        frame_type: str = "event",
        fragments: int = 1,
        order: list[int] | None = None,
        connection: FakeConnection | None = None,
        message_id: str | None = None,
    ) -> PushedMessage:
        """Send an event to one random open connection of the app (or to ``connection``).

        ``fragments`` splits the payload over that many frames, sent in ``order`` (a list of
        fragment indexes; leave some out to send an incomplete message).
        """
        app = app_id or self.app_id
        if connection is None:
            candidates = self._apps[app].connections
            if not candidates:
                raise RuntimeError(f"no open connection for app {app!r}")
            connection = self._rng.choice(candidates)
        body = payload if isinstance(payload, bytes) else _compact(payload)
        size = -(-len(body) // fragments) if fragments > 1 else len(body)
        parts = [body[i * size : (i + 1) * size] for i in range(fragments)]
        self._seq += 1
        pushed = PushedMessage(
            message_id or f"{self.instance_id}-{self._seq}-{self._rng.getrandbits(32):08x}",
            app,
            connection,
        )
        self._pending[pushed.message_id] = pushed
        connection.delivered.append(pushed)
        trace_id = f"{self._rng.getrandbits(128):032x}"
        log_ids = 1 << (self.log_id_bits - 1)  # LogIDs have exactly log_id_bits bits
        total = str(fragments)
        for index in order if order is not None else range(fragments):
            self._seq += 1
            frame = Frame(  # seq_id, log_id, service, method, headers, payload, ...
                self._seq,
                self._rng.randrange(log_ids, 2 * log_ids),
                connection.service_id,
                METHOD_DATA,
                (
                    ("type", frame_type),
                    ("message_id", pushed.message_id),
                    ("sum", total),
                    ("seq", str(index)),
                    ("trace_id", trace_id),
                    ("timestamp", str(int(time.time() * 1000))),
                    ("instance_id", self.instance_id),
                ),
                parts[index],
                None,
                None,
                f"{self._seq:x}-{trace_id[:8]}",
            )
            pushed.frames.append(frame)
            connection._before_send()
            await connection.ws.send_bytes(encode(frame))
        return pushed

    # -- HTTP side ----------------------------------------------------------------------------

    async def _bootstrap(self, request: web.Request) -> web.Response:
        self.bootstrap_requests += 1
        if self._bootstrap_script:
            answer = self._bootstrap_script.popleft()
            if answer.delay:
                await asyncio.sleep(answer.delay)
            if answer.status != 200 or answer.code != 0:
                return web.json_response(
                    {"code": answer.code, "msg": answer.msg, "data": None}, status=answer.status
                )
        # The Go SDK sends no Content-Type: the server reads the body as JSON regardless.
        content_type = request.headers.get("Content-Type")
        if content_type is None:
            self._tolerate("bootstrap without Content-Type (tolerated: the Go SDK sends none)")
        elif not request.content_type.startswith("application/json"):
            self._tolerate(f"bootstrap with Content-Type {_short(content_type)!r}")
        try:
            body = json.loads(await request.read())
        except ValueError:
            self.violations.append("bootstrap body is not JSON")
            return web.json_response({"code": 400, "msg": "bad request"}, status=400)
        app_id = body.get("AppID") if isinstance(body, dict) else None
        secret = body.get("AppSecret") if isinstance(body, dict) else None
        app = self._apps.get(app_id) if isinstance(app_id, str) else None
        if app is None or not isinstance(secret, str) or secret != app.secret:
            return web.json_response({"code": BAD_CREDENTIALS_CODE, "msg": "app secret invalid"})
        assert isinstance(app_id, str)
        ticket = secrets.token_urlsafe(16)
        device_id = str(self._rng.getrandbits(60))
        service_id = self._rng.randrange(1, 2**31)
        self._tickets[ticket] = (app_id, device_id, service_id)
        self.tickets_issued.append(ticket)
        url = (
            f"ws://{self.host}:{self.port}/ws/v2?fpid=493&aid=552564&device_id={device_id}"
            f"&access_key={secrets.token_hex(8)}&service_id={service_id}&ticket={ticket}"
        )
        return web.json_response(
            {"code": 0, "msg": "ok", "data": {"URL": url, "ClientConfig": _raw(self.client_config)}}
        )

    @staticmethod
    def _refuse(refusal: HandshakeRefusal) -> web.Response:
        headers = {"Handshake-Status": str(refusal.status), "Handshake-Msg": refusal.message}
        if refusal.auth_code is not None:
            headers["Handshake-Autherrcode"] = str(refusal.auth_code)
        return web.Response(status=refusal.status, headers=headers, text=refusal.message)

    async def _websocket(self, request: web.Request) -> web.StreamResponse:
        self.handshakes += 1
        ticket = request.query.get("ticket", "")
        issued = self._tickets.pop(ticket, None)
        if issued is None:
            self.violations.append("handshake with an unknown or already used ticket")
            return self._refuse(HandshakeRefusal(403, None, "invalid ticket"))
        if self._handshake_script:
            return self._refuse(self._handshake_script.popleft())
        app_id, device_id, service_id = issued
        app = self._apps[app_id]
        if len(app.connections) >= self.max_connections:
            return self._refuse(TOO_MANY_CONNECTIONS)
        ws = web.WebSocketResponse(autoping=True, max_msg_size=16 * 1024 * 1024)
        await ws.prepare(request)
        conn = FakeConnection(app_id, device_id, service_id, ws, request)
        app.connections.append(conn)
        try:
            async for msg in ws:
                if msg.type is WSMsgType.BINARY:
                    reply = self._on_frame(conn, msg.data)
                    if reply is not None:
                        await reply
                elif msg.type is WSMsgType.TEXT:
                    self.violations.append("text WebSocket message (frames are binary)")
        finally:
            conn.open = False
            app.connections.remove(conn)
        return ws

    # -- frames from the client ------------------------------------------------------------

    def _on_frame(self, conn: FakeConnection, data: bytes) -> Coroutine[Any, Any, object] | None:
        """Check one frame from the client; what to send back (a pong, a close), if anything.

        Synchronous for acks, the bulk of the traffic: no coroutine per frame.
        """
        try:
            frame = decode(data)
        except FrameError as exc:
            self.violations.append(f"undecodable frame: {exc}")
            return conn.ws.close(code=1002, message=b"invalid frame")
        frame_type = frame.header("type")
        if frame.method == METHOD_CONTROL and frame_type == "ping":
            if frame.service != conn.service_id:
                self.violations.append(
                    f"ping with service {frame.service}, expected {conn.service_id}"
                )
            conn.pings += 1
            if not conn.silent:
                return self._pong(conn)
        elif frame.method == METHOD_DATA:
            self._on_ack(conn, frame)
        else:
            self.violations.append(f"unexpected frame: method {frame.method}, type {frame_type}")
        return None

    async def _pong(self, conn: FakeConnection) -> None:
        # The real server sends its ClientConfig in pongs; Node logs an error on an empty one.
        payload = None
        if not self.empty_pongs:
            config = self.client_config if self.pong_config is None else self.pong_config
            payload = _compact(_raw(config))
        pong = Frame(0, 0, conn.service_id, METHOD_CONTROL, (("type", "pong"),), payload)
        with contextlib.suppress(ConnectionError, RuntimeError):
            await conn.ws.send_bytes(encode(pong))

    def _on_ack(self, conn: FakeConnection, frame: Frame) -> None:
        message_id = frame.header("message_id") or ""
        pushed = self._pending.get(message_id)
        if pushed is None or pushed.app_id != conn.app_id:
            self.violations.append(
                f"ack for an unknown or already acknowledged message {message_id[:40]!r}"
            )
            return
        tolerated: list[str] = []
        problems = _check_echo(frame, pushed.frames, tolerated)
        payload, code, data = _parse_ack_payload(frame.payload, problems)
        biz_rt = _biz_rt(frame, code, problems, tolerated)
        latency = time.monotonic() - pushed.pushed_at
        late = latency > self.ack_deadline
        if late:
            problems.append(f"ack after {latency:.3f}s (deadline {self.ack_deadline}s)")
        if problems:
            self.violations.extend(f"ack of {message_id}: {problem}" for problem in problems)
        for warning in tolerated:
            self._tolerate(f"ack of {message_id}: {warning}")
        ack = Ack(message_id, code, data, biz_rt, frame, conn.id, latency, late, payload)
        self.acks.append(ack)
        del self._pending[message_id]
        pushed._resolve(ack)


def _compact(value: Any) -> bytes:
    """JSON as the platform sends it: compact, UTF-8."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def _raw(config: ClientConfig | Mapping[str, Any]) -> dict[str, Any]:
    return config.to_platform() if isinstance(config, ClientConfig) else dict(config)


def _short(text: str) -> str:
    return text[:60].encode("ascii", "backslashreplace").decode("ascii")


def _as_double(value: int) -> int:
    """``value`` after a round trip through a double (a JS number)."""
    return int(float(value))


def _check_echo(ack: Frame, sent: list[Frame], tolerated: list[str]) -> list[str]:
    """Problems of the ack's echo: against the frame that completed the message, or another one.

    The Go SDK may echo any fragment of the message (the server evidently routes the ack by its
    ``message_id``): tolerated. Problems are reported against the completing frame.
    """
    completing = sent[-1]
    problems = _compare(ack, completing, tolerated)
    if not problems:
        return []
    for other in sent[:-1]:
        other_tolerated: list[str] = []
        if not _compare(ack, other, other_tolerated):
            tolerated.extend(other_tolerated)
            tolerated.append(
                f"echoes fragment {other.header('seq')}, not the one that completed the message "
                f"({completing.header('seq')}) (tolerated: the Go SDK may)"
            )
            return []
    return problems


def _compare(ack: Frame, sent: Frame, tolerated: list[str]) -> list[str]:
    """Everything but the payload and ``biz_rt`` must echo ``sent``."""
    problems: list[str] = []
    _compare_id(ack.seq_id, sent.seq_id, "SeqID", problems, tolerated)
    _compare_id(ack.log_id, sent.log_id, "LogID", problems, tolerated)
    if ack.service != sent.service:
        problems.append("service not echoed")
    if ack.method != sent.method:
        problems.append("method not echoed")
    # Absent and empty are the same (the Go encoder always writes these as empty strings).
    if (ack.payload_encoding or "") != (sent.payload_encoding or ""):
        problems.append("payload_encoding not echoed")
    if (ack.payload_type or "") != (sent.payload_type or ""):
        problems.append("payload_type not echoed")
    if (ack.log_id_new or "") != (sent.log_id_new or ""):
        problems.append("LogIDNew not echoed")
    echoed_headers = tuple([pair for pair in ack.headers if pair[0] != "biz_rt"])
    if echoed_headers != sent.headers:
        problems.append("headers not echoed exactly")
    return problems


def _compare_id(
    echoed: int, original: int, label: str, problems: list[str], tolerated: list[str]
) -> None:
    if echoed == original:
        return
    if echoed == _as_double(original):
        tolerated.append(
            f"{label} rounded to a double (tolerated: the Node SDK decodes uint64 as a number)"
        )
    else:
        problems.append(f"{label} not echoed")


def _biz_rt(ack: Frame, code: int, problems: list[str], tolerated: list[str]) -> int | None:
    """The handler time the ack reports; ``None`` when absent."""
    values = [value for key, value in ack.headers if key == "biz_rt"]
    if not values:
        if code == 500:
            tolerated.append(
                "500 ack without biz_rt (tolerated: lark-oapi adds it on success only)"
            )
        else:
            problems.append("biz_rt missing")
        return None
    if len(values) > 1 or not _BIZ_RT.fullmatch(values[0]):
        problems.append("biz_rt repeated or not an integer")
        return None
    biz_rt = int(values[0])
    if biz_rt < 0:
        tolerated.append("negative biz_rt (tolerated: the Node SDK sends start - end)")
    return biz_rt


def _parse_ack_payload(raw: bytes | None, problems: list[str]) -> tuple[Any, int, Any]:
    try:
        payload = json.loads(raw or b"")
    except ValueError:
        problems.append("payload is not JSON")
        return None, -1, None
    if not isinstance(payload, dict):
        problems.append("payload is not a JSON object")
        return payload, -1, None
    code = payload.get("code")
    if not isinstance(code, int) or isinstance(code, bool):
        problems.append("payload without an integer code")
        code = -1
    data = payload.get("data")
    if data is None:
        return payload, code, None
    if not isinstance(data, str):
        problems.append("data is neither null nor a base64 string")
        return payload, code, None
    try:
        return payload, code, json.loads(base64.b64decode(data, validate=True))
    except (binascii.Error, ValueError):
        problems.append("data is not the base64 of JSON")
        return payload, code, None
