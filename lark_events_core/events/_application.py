"""Application events: ``application.bot.menu_v6``."""

from __future__ import annotations

import msgspec

from .common import UserId

__all__ = ["BotMenuClicked", "MenuOperator"]


class MenuOperator(msgspec.Struct, frozen=True, gc=False):
    """Who clicked the bot's menu."""

    operator_name: str | None = None
    operator_id: UserId | None = None


class BotMenuClicked(msgspec.Struct, frozen=True, gc=False):
    """``application.bot.menu_v6``: a user clicked an item of the bot's custom menu."""

    operator: MenuOperator | None = None
    event_key: str | None = None
    timestamp: int | None = None
