"""Keep request bytes out of aiohttp's own log lines.

aiohttp's HTTP parser refuses a malformed request (for example a ``Content-Length`` shorter than
the body: the rest is parsed as the next request) before any handler or middleware runs, and logs
``Error handling request`` on ``aiohttp.server`` with a traceback whose message quotes the bytes it
could not parse: for a Lark push, the ciphertext. :func:`hide_request_bytes` (called by
:func:`lark_events_aiohttp.setup`) adds a filter that turns such a record into one line with the
client's address and the error's class and status, without the traceback.

The 400 answer itself is written by aiohttp (``text/plain``, quoting the same bytes back to the
client that sent them); no application hook can change it. See docs/logging.md for the
recommended setup (a reverse proxy in front answers malformed HTTP itself).
"""

from __future__ import annotations

import logging

from aiohttp.http_exceptions import HttpProcessingError

from lark_events_core.logs import printable

__all__ = ["RequestBytesFilter", "hide_request_bytes"]


class RequestBytesFilter(logging.Filter):
    """Rewrites aiohttp's parse-error records: no traceback, no request bytes."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, HttpProcessingError):
            remote = record.args[0] if isinstance(record.args, tuple) and record.args else None
            record.msg = "malformed HTTP request from %s: %s (status %s); its bytes are not logged"
            record.args = (printable(remote), type(exc).__name__, exc.code)
            record.exc_info = None
            record.exc_text = None
        return True


_FILTER = RequestBytesFilter()


def hide_request_bytes(logger: logging.Logger | None = None) -> None:
    """Install :class:`RequestBytesFilter` on ``logger`` (default ``aiohttp.server``), once."""
    target = logger or logging.getLogger("aiohttp.server")
    if _FILTER not in target.filters:
        target.addFilter(_FILTER)
