"""lark-events core: receive Lark (Feishu) events and callbacks in any Python web framework.

Framework-neutral and sans-I/O: a raw request (method, headers, body bytes) goes in, a response
(status, headers, JSON bytes) comes out. Adapters for Flask, Django and aiohttp live in their own
packages. Importing this package never imports a web framework, Redis, Celery or protobuf.
"""

from __future__ import annotations

import typing as _typing

from .__about__ import __version__
from ._secrets import Secret
from .context import HandlerContext
from .crypto import AESCipher, decrypt, encrypt
from .dedup import AsyncDedupStore, DedupStore, MemoryDedupStore
from .dispatcher import Dispatcher, Handler, HandlerCall
from .envelope import CALLBACK_TYPES, Envelope, classify
from .errors import (
    AuthenticationError,
    BadRequest,
    ConfigurationError,
    DecryptionError,
    LarkEventsError,
    MethodNotAllowed,
    PayloadTooLarge,
    RequestError,
)
from .events import LEGACY_CARD_TYPE, MODELS, Event, EventHeader, Kind
from .http import JSON_CONTENT_TYPE, Headers, Request, Response
from .pipeline import ParsedRequest, decrypt_event, parse_req, parse_request
from .settings import Settings
from .signature import card_signature, event_signature

if _typing.TYPE_CHECKING:
    from .results import CallbackResponse, Card, Toast, UrlPreview

# Imported on first use (PEP 562): only callback handlers that answer with a builder need them,
# and their dataclasses cost about 2 ms to build.
_LAZY = ("CallbackResponse", "Card", "Toast", "UrlPreview")


def __getattr__(name: str) -> object:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from . import results

    value = getattr(results, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})


__all__ = [
    "CALLBACK_TYPES",
    "JSON_CONTENT_TYPE",
    "LEGACY_CARD_TYPE",
    "MODELS",
    "AESCipher",
    "AsyncDedupStore",
    "AuthenticationError",
    "BadRequest",
    "CallbackResponse",
    "Card",
    "ConfigurationError",
    "DecryptionError",
    "DedupStore",
    "Dispatcher",
    "Envelope",
    "Event",
    "EventHeader",
    "Handler",
    "HandlerCall",
    "HandlerContext",
    "Headers",
    "Kind",
    "LarkEventsError",
    "MemoryDedupStore",
    "MethodNotAllowed",
    "ParsedRequest",
    "PayloadTooLarge",
    "Request",
    "RequestError",
    "Response",
    "Secret",
    "Settings",
    "Toast",
    "UrlPreview",
    "__version__",
    "card_signature",
    "classify",
    "decrypt",
    "decrypt_event",
    "encrypt",
    "event_signature",
    "parse_req",
    "parse_request",
]
