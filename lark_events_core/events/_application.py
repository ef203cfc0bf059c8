"""Application events: ``application.bot.menu_v6``."""

from __future__ import annotations

from dataclasses import dataclass

from .common import UserId

__all__ = ["BotMenuClicked", "MenuOperator"]


@dataclass(frozen=True, slots=True)
class MenuOperator:
    """Who clicked the bot's menu."""

    operator_name: str | None = None
    operator_id: UserId | None = None


@dataclass(frozen=True, slots=True)
class BotMenuClicked:
    """``application.bot.menu_v6``: a user clicked an item of the bot's custom menu."""

    operator: MenuOperator | None = None
    event_key: str | None = None
    timestamp: int | None = None
