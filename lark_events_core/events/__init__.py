"""Typed event models and the :class:`Event` envelope.

:data:`MODELS` maps each plain event type that lark-events knows to its model; events of any other
type are delivered too, with the raw ``dict`` as their body.
"""

from __future__ import annotations

from typing import Any

from ._model import from_dict
from .application import BotMenuClicked, MenuOperator
from .base import Event, EventHeader, Kind
from .cards import (
    CallbackContext,
    CallbackOperator,
    CardAction,
    CardActionTrigger,
    LegacyCardAction,
    UrlPreviewGet,
)
from .common import UserId
from .contact import Avatar, User, UserCreated, UserStatus
from .im import (
    BotAddedToChat,
    BotRemovedFromChat,
    ChatI18nNames,
    Mention,
    Message,
    MessageRead,
    MessageReader,
    MessageReceive,
    MessageSender,
)
from .v1 import AppTicket, MessageV1

__all__ = [
    "LEGACY_CARD_TYPE",
    "MODELS",
    "AppTicket",
    "Avatar",
    "BotAddedToChat",
    "BotMenuClicked",
    "BotRemovedFromChat",
    "CallbackContext",
    "CallbackOperator",
    "CardAction",
    "CardActionTrigger",
    "ChatI18nNames",
    "Event",
    "EventHeader",
    "Kind",
    "LegacyCardAction",
    "Mention",
    "MenuOperator",
    "Message",
    "MessageRead",
    "MessageReader",
    "MessageReceive",
    "MessageSender",
    "MessageV1",
    "UrlPreviewGet",
    "User",
    "UserCreated",
    "UserId",
    "UserStatus",
    "from_dict",
]

#: The dispatch key of legacy message-card callbacks (they carry no type of their own).
LEGACY_CARD_TYPE = "legacy_card"

MODELS: dict[str, type[Any]] = {
    "im.message.receive_v1": MessageReceive,
    "im.message.message_read_v1": MessageRead,
    "im.chat.member.bot.added_v1": BotAddedToChat,
    "im.chat.member.bot.deleted_v1": BotRemovedFromChat,
    "contact.user.created_v3": UserCreated,
    "application.bot.menu_v6": BotMenuClicked,
    "card.action.trigger": CardActionTrigger,
    "url.preview.get": UrlPreviewGet,
    "message": MessageV1,
    "app_ticket": AppTicket,
    LEGACY_CARD_TYPE: LegacyCardAction,
}
