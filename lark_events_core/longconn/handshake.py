"""The WebSocket upgrade to the one-time URL, and what a refusal means (LONG_CONNECTION.md §2)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import aiohttp

from ._aio import within
from .bootstrap import Endpoint
from .errors import HandshakeFailed, HandshakeRejected, TooManyConnections

__all__ = ["TOO_MANY_CONNECTIONS", "classify_handshake", "open_websocket"]

#: ``Handshake-Autherrcode`` of a refusal because the app already has 50 connections.
TOO_MANY_CONNECTIONS = 1000040350
_AUTH_FAILED = 514
_FORBIDDEN = 403
_MAX_MESSAGE = 16 * 1024 * 1024


def _safe(text: str, limit: int = 200) -> str:
    return text[:limit].encode("ascii", "backslashreplace").decode("ascii")


def classify_handshake(status: int, headers: Mapping[str, str]) -> Exception:
    """The error for a refused upgrade: stop on 403 and on 514 + 1000040350, else retry."""
    try:
        code = int(headers.get("Handshake-Status", status))
    except ValueError:
        code = status
    message = _safe(headers.get("Handshake-Msg", ""))
    auth_raw = headers.get("Handshake-Autherrcode")
    try:
        auth_code = int(auth_raw) if auth_raw is not None else None
    except ValueError:
        auth_code = None
    if code == _AUTH_FAILED and auth_code == TOO_MANY_CONNECTIONS:
        return TooManyConnections(code, message, auth_code)
    if code == _FORBIDDEN:
        return HandshakeRejected(code, message, auth_code)
    return HandshakeFailed(f"status {code}", status=code)


async def open_websocket(
    session: aiohttp.ClientSession,
    endpoint: Endpoint,
    *,
    timeout: float,
    close_timeout: float,
    user_agent: str,
) -> aiohttp.ClientWebSocketResponse:
    """Upgrade within ``timeout`` seconds; :class:`HandshakeFailed` or a stop-type error."""
    options: dict[str, Any] = {
        "headers": {"User-Agent": user_agent},
        "autoclose": True,
        "max_msg_size": _MAX_MESSAGE,
        # aiohttp < 3.10 takes the close timeout as a float.
        "timeout": (
            aiohttp.ClientWSTimeout(ws_close=close_timeout)
            if hasattr(aiohttp, "ClientWSTimeout")
            else close_timeout
        ),
    }
    try:
        return await within(session.ws_connect(endpoint.url.reveal(), **options), timeout)
    except aiohttp.WSServerHandshakeError as exc:
        # str(exc) holds the URL and its one-time ticket: the error raised below is built
        # outside this block so that it does not even keep it as its __context__.
        failure = classify_handshake(exc.status, exc.headers or {})
    except asyncio.TimeoutError:
        failure = HandshakeFailed(f"no upgrade within {timeout:g}s")
    except (aiohttp.ClientError, OSError) as exc:
        failure = HandshakeFailed(f"network error ({type(exc).__name__})")
    raise failure
