"""Call the Lark / Feishu Open API from handlers: tenant tokens, messages, replies, card updates.

Needs the ``outbound`` extra (``pip install 'lark-events[outbound]'``, which brings aiohttp).
``import lark_events_core`` never imports this package.

::

    from lark_events_core.outbound import OpenAPIClient

    client = OpenAPIClient(app_id, app_secret)          # or OpenAPIClient.from_env()

    @dispatcher.on("im.message.receive_v1")
    async def echo(event):
        await client.for_event(event).reply_text(event.event.message.text or "")
"""

from __future__ import annotations

from .. import _extras

try:
    import aiohttp as _aiohttp  # noqa: F401 - fail early, with the extra to install
except ImportError as exc:
    _extras.missing_extra(exc, "outbound", __name__)

from .client import OpenAPIClient, client_from_env
from .domains import FEISHU, LARK, resolve_base_url
from .errors import (
    AppTicketMissing,
    InvalidTokenError,
    OpenAPIError,
    OutboundError,
    RateLimitError,
    ServerError,
    TokenRequestError,
    TransportError,
)
from .replier import Replier
from .retry import RetryPolicy
from .tickets import MemoryTicketStore, TicketStore

__all__ = [
    "FEISHU",
    "LARK",
    "AppTicketMissing",
    "InvalidTokenError",
    "MemoryTicketStore",
    "OpenAPIClient",
    "OpenAPIError",
    "OutboundError",
    "RateLimitError",
    "Replier",
    "RetryPolicy",
    "ServerError",
    "TicketStore",
    "TokenRequestError",
    "TransportError",
    "client_from_env",
    "resolve_base_url",
]
