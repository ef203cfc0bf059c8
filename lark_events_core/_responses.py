"""The dispatcher's fixed responses, built once (PROTOCOL.md §7)."""

from __future__ import annotations

from .http import Response

__all__ = ["BUSY", "EMPTY", "INTERNAL_ERROR", "STORE_UNAVAILABLE", "SUCCESS"]

SUCCESS = Response(200, b'{"msg":"success"}')
#: An unhandled callback: nothing to change in what the user sees.
EMPTY = Response(200, b"{}")
INTERNAL_ERROR = Response(500, b'{"msg":"internal error"}')
STORE_UNAVAILABLE = Response(503, b'{"msg":"deduplication store unavailable, retry later"}')
BUSY = Response(503, b'{"msg":"busy, retry later"}')
