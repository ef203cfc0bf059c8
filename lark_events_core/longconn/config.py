"""The client settings the platform sends (``ClientConfig``), applied only where sane."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

__all__ = ["ClientConfig"]

_MAX_SECONDS = 24 * 3600.0


def _seconds(value: Any, *, allow_zero: bool) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if value != value or value < 0 or value > _MAX_SECONDS:  # NaN, negative, absurd
        return None
    if value == 0 and not allow_zero:
        return None
    return float(value)


@dataclass(frozen=True, slots=True)
class ClientConfig:
    """Reconnect and keepalive settings, in seconds.

    ``reconnect_count`` < 0 retries forever. The defaults are the platform's usual values.
    """

    reconnect_count: int = -1
    reconnect_interval: float = 120.0
    reconnect_nonce: float = 30.0
    ping_interval: float = 120.0

    def updated(self, raw: object) -> ClientConfig:
        """A copy with the present and sane keys of a platform ``ClientConfig`` object applied.

        A missing, zero or non-numeric ``PingInterval`` or ``ReconnectInterval`` is ignored (it
        would make a loop spin); a ``ReconnectCount`` of 0 is ignored too, since it would mean
        giving up before the first attempt.
        """
        if not isinstance(raw, Mapping):
            return self
        changes: dict[str, Any] = {}
        count = raw.get("ReconnectCount")
        if isinstance(count, int) and not isinstance(count, bool) and count != 0:
            changes["reconnect_count"] = -1 if count < 0 else count
        interval = _seconds(raw.get("ReconnectInterval"), allow_zero=False)
        if interval is not None:
            changes["reconnect_interval"] = interval
        nonce = _seconds(raw.get("ReconnectNonce"), allow_zero=True)
        if nonce is not None:
            changes["reconnect_nonce"] = nonce
        ping = _seconds(raw.get("PingInterval"), allow_zero=False)
        if ping is not None:
            changes["ping_interval"] = ping
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
