"""Bootstrap: ask the platform for a one-time WebSocket URL (long_connection_protocol.md §1)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiohttp

from .. import _json
from .._secrets import Secret
from ..domains import FEISHU, LARK, resolve_domain
from .errors import BootstrapRejected, BootstrapUnavailable

__all__ = [
    "ENDPOINT_PATH",
    "FEISHU_DOMAIN",
    "LARK_DOMAIN",
    "RETRYABLE_CODES",
    "Endpoint",
    "fetch_endpoint",
    "resolve_domain",
]

#: The platforms' base URLs; ``domain=`` also takes ``"feishu"`` and ``"lark"`` (``LARK_DOMAIN``
#: means the same here as for the Open API client).
FEISHU_DOMAIN = FEISHU
LARK_DOMAIN = LARK
ENDPOINT_PATH = "/callback/ws/endpoint"
#: ``code`` values that mean "try again": busy, internal error, busy.
RETRYABLE_CODES = frozenset({1, 1000040343, 1000040351})
_MAX_BODY = 64 * 1024


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Where to connect. ``url`` holds a one-time ticket, so it is a :class:`Secret`."""

    url: Secret
    device_id: str
    service_id: int
    client_config: Any = None

    def __repr__(self) -> str:
        return f"Endpoint(device_id={self.device_id!r}, service_id={self.service_id})"


def _safe_message(value: Any) -> str:
    text = value if isinstance(value, str) else ""
    return text[:200].encode("ascii", "backslashreplace").decode("ascii")


def parse_endpoint(data: Any) -> Endpoint:
    """Read ``data`` of a successful answer; :class:`BootstrapUnavailable` when malformed."""
    if not isinstance(data, dict) or not isinstance(data.get("URL"), str):
        raise BootstrapUnavailable("answer without a URL")
    url: str = data["URL"]
    parts = urlsplit(url)
    if parts.scheme not in ("ws", "wss") or not parts.hostname:
        raise BootstrapUnavailable("answer with a URL that is not ws:// or wss://")
    query = parse_qs(parts.query)
    device_id = (query.get("device_id") or [""])[0]
    try:
        service_id = int((query.get("service_id") or [""])[0])
    except ValueError:
        raise BootstrapUnavailable("answer with a URL without a numeric service_id") from None
    if not -(2**31) <= service_id < 2**31:
        raise BootstrapUnavailable("answer with a service_id out of the int32 range")
    return Endpoint(Secret(url), device_id, service_id, data.get("ClientConfig"))


async def fetch_endpoint(
    session: aiohttp.ClientSession,
    domain: str,
    app_id: str,
    app_secret: Secret,
    *,
    timeout: float,
    user_agent: str,
) -> Endpoint:
    """POST the credentials to ``{domain}/callback/ws/endpoint`` within ``timeout`` seconds.

    Raises :class:`BootstrapUnavailable` (retry) or :class:`BootstrapRejected` (stop).
    """
    url = resolve_domain(domain) + ENDPOINT_PATH
    body = _json.dumps({"AppID": app_id, "AppSecret": app_secret.reveal()})
    headers = {"locale": "zh", "Content-Type": "application/json", "User-Agent": user_agent}
    try:
        async with session.post(
            url, data=body, headers=headers, timeout=aiohttp.ClientTimeout(total=timeout)
        ) as resp:
            status = resp.status
            raw = await resp.content.read(_MAX_BODY + 1)
    except asyncio.TimeoutError:
        raise BootstrapUnavailable(f"no answer within {timeout:g}s") from None
    except (aiohttp.ClientError, OSError) as exc:
        raise BootstrapUnavailable(f"network error ({type(exc).__name__})") from None
    if status != 200:
        raise BootstrapUnavailable(f"HTTP status {status}", status=status)
    if len(raw) > _MAX_BODY:
        raise BootstrapUnavailable("answer too large", status=status)
    try:
        answer = _json.loads(raw)
    except _json.JSONDecodeError:
        raise BootstrapUnavailable("answer is not JSON", status=status) from None
    if not isinstance(answer, dict):
        raise BootstrapUnavailable("answer is not a JSON object", status=status)
    code = answer.get("code")
    if not isinstance(code, int) or isinstance(code, bool):
        raise BootstrapUnavailable("answer without a numeric code", status=status)
    if code in RETRYABLE_CODES:
        raise BootstrapUnavailable(f"platform busy (code {code})", status=status, code=code)
    if code != 0:
        raise BootstrapRejected(code, _safe_message(answer.get("msg")))
    return parse_endpoint(answer.get("data"))
