"""The client settings the platform sends (``ClientConfig``), applied only where sane."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

__all__ = ["MIN_SERVER_INTERVAL", "ClientConfig"]

#: The shortest ``PingInterval`` / ``ReconnectInterval`` a server may set, in seconds. The platform
#: sends whole seconds (120 by default); a pong with ``PingInterval: 0.001`` must not make a client
#: ping hundreds of times a second, nor ``ReconnectInterval: 0.001`` hammer a busy endpoint.
MIN_SERVER_INTERVAL = 1.0
_MAX_SECONDS = 24 * 3600.0


def _seconds(value: Any, *, allow_zero: bool) -> float | None:
    """A number of seconds from JSON (integer or fractional); ``None`` when not a sane one."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if math.isnan(value) or value < 0 or value > _MAX_SECONDS:
        return None
    if value == 0 and not allow_zero:
        return None
    return float(value)


def _count(value: Any) -> int | None:
    """A whole number from JSON (``3`` or ``3.0``); ``None`` otherwise."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if isinstance(value, float) and not value.is_integer():
        return None
    return int(value)


@dataclass(frozen=True, slots=True)
class ClientConfig:
    """Reconnect and keepalive settings, in seconds.

    ``reconnect_count`` < 0 retries forever. The defaults are the platform's usual values. Values
    given here are used as they are; values the server sends go through :meth:`updated`.
    """

    reconnect_count: int = -1
    reconnect_interval: float = 120.0
    reconnect_nonce: float = 30.0
    ping_interval: float = 120.0

    def updated(self, raw: object) -> ClientConfig:
        """A copy with the present and sane keys of a platform ``ClientConfig`` object applied.

        Integers and fractions are both read. A missing, zero or non-numeric ``PingInterval`` or
        ``ReconnectInterval`` is ignored, and a positive one is raised to at least
        :data:`MIN_SERVER_INTERVAL` (either would make a loop spin); a ``ReconnectCount`` of 0 is
        ignored too, since it would mean giving up before the first attempt.
        """
        if not isinstance(raw, Mapping):
            return self
        changes: dict[str, Any] = {}
        count = _count(raw.get("ReconnectCount"))
        if count is not None and count != 0:
            changes["reconnect_count"] = -1 if count < 0 else count
        interval = _seconds(raw.get("ReconnectInterval"), allow_zero=False)
        if interval is not None:
            changes["reconnect_interval"] = max(interval, MIN_SERVER_INTERVAL)
        nonce = _seconds(raw.get("ReconnectNonce"), allow_zero=True)
        if nonce is not None:
            changes["reconnect_nonce"] = nonce
        ping = _seconds(raw.get("PingInterval"), allow_zero=False)
        if ping is not None:
            changes["ping_interval"] = max(ping, MIN_SERVER_INTERVAL)
        return replace(self, **changes) if changes else self

    def to_platform(self) -> dict[str, int | float]:
        """The PascalCase JSON object the platform sends (whole seconds as integers)."""
        return {
            "ReconnectCount": self.reconnect_count,
            "ReconnectInterval": _number(self.reconnect_interval),
            "ReconnectNonce": _number(self.reconnect_nonce),
            "PingInterval": _number(self.ping_interval),
        }


def _number(value: float) -> int | float:
    return int(value) if float(value).is_integer() else value
