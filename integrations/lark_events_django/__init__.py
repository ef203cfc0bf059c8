"""lark-events for Django: views, URLs to ``include()``, settings, handler decorators, checks.

::

    # settings.py
    INSTALLED_APPS = [..., "lark_events_django"]
    LARK_EVENTS = {
        "ENCRYPT_KEY": os.environ.get("LARK_ENCRYPT_KEY"),
        "VERIFICATION_TOKEN": os.environ.get("LARK_VERIFICATION_TOKEN"),
    }

    # urls.py
    urlpatterns = [path("webhook/", include("lark_events_django.urls"))]

    # myapp/lark_handlers.py (imported at startup, like admin.py)
    import lark_events_django

    @lark_events_django.on("im.message.receive_v1")
    def on_message(event): ...
"""

from __future__ import annotations

from lark_events_core import _extras

try:  # fail early, with the extra to install
    import django as _django  # noqa: F401
except ImportError as exc:
    _extras.missing_extra(exc, "django", __name__)

from .conf import configure, get_dispatcher, on, on_legacy_card, reset
from .execution import closing_old_connections
from .views import (
    async_lark_card_view,
    async_lark_event_view,
    lark_card_view,
    lark_event_view,
    make_async_view,
    make_sync_view,
    make_view,
    to_django,
)

__all__ = [
    "async_lark_card_view",
    "async_lark_event_view",
    "closing_old_connections",
    "configure",
    "get_dispatcher",
    "lark_card_view",
    "lark_event_view",
    "make_async_view",
    "make_sync_view",
    "make_view",
    "on",
    "on_legacy_card",
    "reset",
    "to_django",
]
