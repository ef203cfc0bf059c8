"""django_echo's settings with deferred, slow handlers (tests.e2e.shutdown.handlers)."""

from __future__ import annotations

from typing import Any

from echo_project.settings import *  # noqa: F403

from tests.e2e.shutdown import handlers

INSTALLED_APPS = ["lark_events_django"]
LARK_EVENTS: dict[str, Any] = {  # type: ignore[no-redef]
    **{k.upper(): v for k, v in handlers.options().items()},
    "HANDLERS": ["tests.e2e.shutdown.django_handlers"],
}
