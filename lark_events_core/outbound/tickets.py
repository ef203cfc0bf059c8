"""Where a store app keeps its ``app_ticket`` (pushed by the platform about once an hour)."""

from __future__ import annotations

import threading
from typing import Protocol, runtime_checkable

from .._secrets import Secret

__all__ = ["MemoryTicketStore", "TicketStore"]


@runtime_checkable
class TicketStore(Protocol):
    """Keeps the latest ``app_ticket`` per app id.

    The platform pushes the ticket to one worker only; with several processes, use a shared store
    (a few lines over Redis) so that every worker sees it.
    """

    def get(self, app_id: str) -> Secret | None:
        """The latest ticket of ``app_id``, if any."""
        ...

    def set(self, app_id: str, ticket: Secret) -> None:
        """Remember ``ticket`` as the latest of ``app_id``."""
        ...


class MemoryTicketStore:
    """A process-local :class:`TicketStore`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tickets: dict[str, Secret] = {}

    def get(self, app_id: str) -> Secret | None:
        """The latest ticket of ``app_id``, if any."""
        with self._lock:
            return self._tickets.get(app_id)

    def set(self, app_id: str, ticket: Secret) -> None:
        """Remember ``ticket`` as the latest of ``app_id``."""
        with self._lock:
            self._tickets[app_id] = ticket
