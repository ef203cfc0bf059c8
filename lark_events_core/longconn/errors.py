"""Errors of the long connection, under the project's root :class:`LarkEventsError`.

::

    LarkEventsError
     └── LongConnectionError
          ├── RetryableError            the client retries these by itself
          │    ├── BootstrapUnavailable  endpoint: HTTP status, network error, timeout, busy codes
          │    ├── HandshakeFailed       upgrade refused with a retryable status, or network error
          │    └── ConnectionLost        closed by the server, read error, or the watchdog fired
          └── StopError                 end ``run()``: retrying cannot help
               ├── BootstrapRejected     endpoint refused the credentials / app (``code``)
               ├── HandshakeRejected     403, or 514 + 1000040350 (``auth_code``)
               │    └── TooManyConnections   the app already has 50 connections
               └── ReconnectExhausted    ``ReconnectCount`` attempts failed (``last_error``)

Messages never hold the one-time connection URL, the app secret or a response body.
"""

from __future__ import annotations

from ..errors import LarkEventsError

__all__ = [
    "BootstrapRejected",
    "BootstrapUnavailable",
    "ConnectionLost",
    "HandshakeFailed",
    "HandshakeRejected",
    "LongConnectionError",
    "ReconnectExhausted",
    "RetryableError",
    "StopError",
    "TooManyConnections",
]


class LongConnectionError(LarkEventsError):
    """Root of the long connection's errors."""


class RetryableError(LongConnectionError):
    """A failure the client handles by reconnecting."""


class BootstrapUnavailable(RetryableError):
    """The endpoint request failed in a way worth retrying."""

    def __init__(self, reason: str, *, status: int | None = None, code: int | None = None) -> None:
        self.http_status = status
        self.code = code
        super().__init__(f"endpoint unavailable: {reason}")


class HandshakeFailed(RetryableError):
    """The WebSocket upgrade failed in a way worth retrying."""

    def __init__(self, reason: str, *, status: int | None = None) -> None:
        self.handshake_status = status
        super().__init__(f"handshake failed: {reason}")


class ConnectionLost(RetryableError):
    """An established connection ended."""


class StopError(LongConnectionError):
    """A failure that ends :meth:`LongConnectionClient.run` with this exception."""


class BootstrapRejected(StopError):
    """The endpoint refused the app (bad credentials, or the app may not use long connections)."""

    def __init__(self, code: int, message: str) -> None:
        self.code = code
        self.platform_message = message
        super().__init__(f"endpoint refused the app: code {code}: {message}")


class HandshakeRejected(StopError):
    """The WebSocket upgrade was refused for good."""

    def __init__(self, status: int, message: str, auth_code: int | None = None) -> None:
        self.handshake_status = status
        self.auth_code = auth_code
        self.platform_message = message
        detail = f" (auth error {auth_code})" if auth_code is not None else ""
        super().__init__(f"handshake refused: status {status}{detail}: {message}")


class TooManyConnections(HandshakeRejected):
    """The app already has the maximum number of connections (50)."""


class ReconnectExhausted(StopError):
    """Every reconnect attempt allowed by ``ReconnectCount`` failed."""

    def __init__(self, attempts: int, last_error: BaseException | None) -> None:
        self.attempts = attempts
        self.last_error = last_error
        last = f": last error: {last_error}" if last_error is not None else ""
        super().__init__(f"gave up after {attempts} connection attempts{last}")
