"""Registers the shutdown tests' handler on lark_events_django's default dispatcher."""

from __future__ import annotations

import lark_events_django

from . import handlers

lark_events_django.on(handlers.MESSAGE)(handlers.on_message)
