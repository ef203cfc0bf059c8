"""Health of a dispatcher, for liveness and readiness probes (Kubernetes style).

:meth:`Dispatcher.health` (or :meth:`Dispatcher.ahealth` from a coroutine) checks the
deduplication store (a ``ping`` when the store has one), the background executor and every
registered source (a :class:`~lark_events_core.longconn.LongConnectionClient` registers itself),
and returns a :class:`Health`. The adapters' optional health routes answer its JSON with 200
when ready and 503 when not; liveness needs only that the process answers.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["Check", "Health", "HealthSource"]


@dataclass(frozen=True, slots=True)
class Check:
    """One component's state: ``ok`` and a short fixed ``detail`` (never secrets or bodies)."""

    name: str
    ok: bool
    detail: str = ""


#: A callable that reports one component.
HealthSource = Callable[[], Check]


@dataclass(frozen=True, slots=True)
class Health:
    """Every check; ``ready`` when all pass."""

    checks: tuple[Check, ...]

    @property
    def ready(self) -> bool:
        """Whether every component works: route traffic here."""
        return all(check.ok for check in self.checks)

    @property
    def status(self) -> int:
        """The HTTP status a readiness route answers: 200 when ready, else 503."""
        return 200 if self.ready else 503

    def as_dict(self) -> dict[str, object]:
        """A JSON-ready summary: ``{"ready": bool, "checks": {name: {"ok", "detail"}}}``."""
        return {
            "ready": self.ready,
            "checks": {c.name: {"ok": c.ok, "detail": c.detail} for c in self.checks},
        }

    def body(self) -> bytes:
        """:meth:`as_dict` as compact JSON bytes."""
        return json.dumps(self.as_dict(), separators=(",", ":")).encode()
