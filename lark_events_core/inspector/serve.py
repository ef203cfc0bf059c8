"""Run the inspector on a real socket: loopback by default, an access token elsewhere."""

from __future__ import annotations

import ipaddress
import secrets
from dataclasses import dataclass

from aiohttp import web

from .app import create_app
from .sender import Sender

__all__ = ["InspectorServer", "is_loopback", "parse_bind"]

DEFAULT_HOST = "127.0.0.1"


def is_loopback(host: str) -> bool:
    """Whether ``host`` only accepts connections from this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def parse_bind(value: str) -> tuple[str, int]:
    """``[HOST:]PORT`` (``HOST`` defaults to 127.0.0.1); a :class:`ValueError` when malformed."""
    host, sep, port_text = value.rpartition(":")
    if not sep:
        host = DEFAULT_HOST
    host = host.strip("[]") or DEFAULT_HOST
    try:
        port = int(port_text)
    except ValueError:
        raise ValueError(f"not [HOST:]PORT: {value!r}") from None
    if not 0 <= port <= 65535:
        raise ValueError(f"not a port: {port}")
    return host, port


@dataclass
class InspectorServer:
    """The inspector of ``sender`` served on ``host``:``port`` (0: any free port).

    Bound to anything but loopback, every route wants a per-run access token, part of
    :attr:`url`.
    """

    sender: Sender
    host: str = DEFAULT_HOST
    port: int = 0
    access_token: str = ""
    _runner: web.AppRunner | None = None

    def __post_init__(self) -> None:
        if not is_loopback(self.host) and not self.access_token:
            self.access_token = secrets.token_urlsafe(18)

    async def start(self) -> InspectorServer:
        """Listen; :attr:`port` and :attr:`url` are then the real ones."""
        app = create_app(self.sender, access_token=self.access_token)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port)
        await site.start()
        self._runner = runner
        self.port = int(runner.addresses[0][1])
        return self

    @property
    def url(self) -> str:
        """The page's address, with the access token when one is needed."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        if host in ("0.0.0.0", "[::]"):
            host = "127.0.0.1" if host == "0.0.0.0" else "[::1]"
        query = f"?access={self.access_token}" if self.access_token else ""
        return f"http://{host}:{self.port}/{query}"

    async def close(self) -> None:
        """Stop serving (live streams end) and close the sender."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        await self.sender.close()

    async def __aenter__(self) -> InspectorServer:
        return await self.start()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()
