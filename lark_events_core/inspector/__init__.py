"""A local web inspector for the events the CLI forwards and simulates (needs aiohttp).

Every exchange (the request sent to the app, signed and encrypted like the platform's, and the
app's answer) is kept in a bounded SQLite history and listed live on a local page, with replay,
compose and export. ``lark-events inspect`` and ``lark-events forward --inspect`` start it; see
docs/inspector.md.
"""

from __future__ import annotations

from .app import create_app
from .export import as_pytest, as_send_command
from .hub import Hub
from .secrets import REDACTED, Scrubber
from .sender import Sender
from .serve import InspectorServer, is_loopback, parse_bind
from .store import Exchange, ExchangeStore, default_path

__all__ = [
    "REDACTED",
    "Exchange",
    "ExchangeStore",
    "Hub",
    "InspectorServer",
    "Scrubber",
    "Sender",
    "as_pytest",
    "as_send_command",
    "create_app",
    "default_path",
    "is_loopback",
    "parse_bind",
]
