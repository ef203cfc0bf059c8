"""A :class:`~lark_events_core.outbound.tickets.TicketStore` in Redis, shared by every worker.

The platform pushes a store app's ``app_ticket`` to one worker; with this store every worker and
every process sees it. Needs the ``redis`` extra; imported only when used.
"""

from __future__ import annotations

from typing import Any

from .. import _extras
from .._secrets import Secret

try:
    import redis
except ImportError as exc:
    _extras.missing_extra(exc, "redis", __name__)

__all__ = ["RedisTicketStore"]


class RedisTicketStore:
    """Keeps tickets under ``{prefix}{app_id}`` for ``ttl`` seconds (the platform re-pushes hourly).

    ``client`` is a ``redis.Redis`` or a URL (``redis://127.0.0.1:6379/0``).
    """

    def __init__(
        self,
        client: redis.Redis | str,
        *,
        prefix: str = "lark:app_ticket:",
        ttl: int = 3 * 3600,
    ) -> None:
        self._redis: redis.Redis = (
            redis.Redis.from_url(client) if isinstance(client, str) else client
        )
        self.prefix = prefix
        self.ttl = ttl

    def __repr__(self) -> str:
        return f"RedisTicketStore(prefix={self.prefix!r}, ttl={self.ttl!r})"

    def get(self, app_id: str) -> Secret | None:
        """The latest ticket of ``app_id``, if any."""
        value: Any = self._redis.get(self.prefix + app_id)
        if value is None:
            return None
        text = value.decode("utf-8") if isinstance(value, bytes) else str(value)
        return Secret(text) if text else None

    def set(self, app_id: str, ticket: Secret) -> None:
        """Remember ``ticket`` as the latest of ``app_id``."""
        self._redis.set(self.prefix + app_id, ticket.reveal(), ex=self.ttl)
