"""The Django app: add ``"lark_events_django"`` to ``INSTALLED_APPS``."""

from __future__ import annotations

from django.apps import AppConfig
from django.utils.module_loading import autodiscover_modules


class LarkEventsConfig(AppConfig):
    """Registers the system checks and imports every installed app's ``lark_handlers`` module."""

    name = "lark_events_django"
    verbose_name = "Lark events"

    def ready(self) -> None:
        """Register the checks; import ``<app>.lark_handlers`` modules (like ``admin.py``)."""
        from lark_events_core.shutdown import watch_server

        from . import checks  # noqa: F401 - registers the checks

        watch_server()  # a gunicorn worker's drain then ends within its graceful_timeout

        autodiscover_modules("lark_handlers")
