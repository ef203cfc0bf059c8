"""Receive events over the platform's long connection (WebSocket); needs the ``longconn`` extra.

::

    from lark_events_core import Dispatcher
    from lark_events_core.longconn import LongConnectionClient

    dispatcher = Dispatcher()
    client = LongConnectionClient(dispatcher, app_id="cli_…", app_secret="…")
    client.start()  # or: async with client: … / await client.run()

Importing :mod:`lark_events_core` never imports this package (aiohttp and protobuf load here).
"""

from __future__ import annotations

from .. import _extras

try:  # fail early, with the extra to install
    import aiohttp as _aiohttp  # noqa: F401
    import google.protobuf as _protobuf  # noqa: F401
except ImportError as exc:
    _extras.missing_extra(exc, "longconn", __name__)

from .bootstrap import FEISHU_DOMAIN, LARK_DOMAIN, Endpoint
from .client import LongConnectionClient
from .config import ClientConfig
from .delivery import Delivery, Reply, Target, dispatcher_target
from .errors import (
    BootstrapRejected,
    BootstrapUnavailable,
    ConnectionLost,
    HandshakeFailed,
    HandshakeRejected,
    LongConnectionError,
    ReconnectExhausted,
    RetryableError,
    StopError,
    TooManyConnections,
)
from .frames import Frame, FrameError

__all__ = [
    "FEISHU_DOMAIN",
    "LARK_DOMAIN",
    "BootstrapRejected",
    "BootstrapUnavailable",
    "ClientConfig",
    "ConnectionLost",
    "Delivery",
    "Endpoint",
    "Frame",
    "FrameError",
    "HandshakeFailed",
    "HandshakeRejected",
    "LongConnectionClient",
    "LongConnectionError",
    "ReconnectExhausted",
    "Reply",
    "RetryableError",
    "StopError",
    "Target",
    "TooManyConnections",
    "dispatcher_target",
]
