"""Typed event models and the :class:`Event` envelope.

:data:`MODELS` maps each plain event type that lark-events knows to its model; events of any other
type are delivered too, with the raw ``dict`` as their body. The models of each service live in
their own module (``events.im``, ``events.calendar``, ...), generated from the platform's schemas
by ``scripts/generate_events.py``; a service's module is imported the first time one of its
models is looked up, so importing the package stays cheap.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from ._index import INDEX
from ._model import from_dict
from .base import Event, EventHeader, Kind

if TYPE_CHECKING:
    from ._application import BotMenuClicked, MenuOperator
    from ._contact import Avatar, User, UserCreated, UserStatus
    from ._im import (
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
    from .cards import (
        CallbackContext,
        CallbackOperator,
        CardAction,
        CardActionTrigger,
        LegacyCardAction,
        UrlPreviewGet,
    )
    from .common import UserId
    from .v1 import AppTicket, MessageV1

# The hand-written models are imported on first use too (PEP 562 for these names, MODELS for
# their event types): an app that handles only cards never builds the message models.
_LAZY_BY_MODULE = {
    "_application": "BotMenuClicked MenuOperator",
    "_contact": "Avatar User UserCreated UserStatus",
    "_im": "BotAddedToChat BotRemovedFromChat ChatI18nNames Mention Message MessageRead "
    "MessageReader MessageReceive MessageSender",
    "cards": "CallbackContext CallbackOperator CardAction CardActionTrigger LegacyCardAction "
    "UrlPreviewGet",
    "common": "UserId",
    "v1": "AppTicket MessageV1",
}
_LAZY = {name: module for module, names in _LAZY_BY_MODULE.items() for name in names.split()}


def __getattr__(name: str) -> object:
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module_name}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})


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
    "ModelRegistry",
    "UrlPreviewGet",
    "User",
    "UserCreated",
    "UserId",
    "UserStatus",
    "from_dict",
]

#: The dispatch key of legacy message-card callbacks (they carry no type of their own).
LEGACY_CARD_TYPE = "legacy_card"


class ModelRegistry(Mapping[str, type[Any]]):
    """Event type → model; a generated model's service module is imported on first lookup."""

    __slots__ = ("_keys", "_loaded", "_where")

    def __init__(self, loaded: dict[str, type[Any]], where: Mapping[str, tuple[str, str]]) -> None:
        self._loaded = dict(loaded)
        self._where = {t: w for t, w in where.items() if t not in loaded}
        self._keys = tuple(sorted({*loaded, *where}))

    def __getitem__(self, event_type: str) -> type[Any]:
        try:
            return self._loaded[event_type]
        except KeyError:
            module_name, class_name = self._where[event_type]  # KeyError: not a known type
        module = importlib.import_module(f"{__name__}.{module_name}")
        model: type[Any] = getattr(module, class_name)
        self._loaded[event_type] = model
        return model

    def __contains__(self, event_type: object) -> bool:
        return event_type in self._loaded or event_type in self._where

    def __iter__(self) -> Iterator[str]:
        return iter(self._keys)

    def __len__(self) -> int:
        return len(self._keys)

    def __repr__(self) -> str:
        return f"<ModelRegistry of {len(self)} event types>"


# The hand-written models' event types → their class (its module is in _LAZY).
_HAND_WRITTEN = {
    "im.message.receive_v1": "MessageReceive",
    "im.message.message_read_v1": "MessageRead",
    "im.chat.member.bot.added_v1": "BotAddedToChat",
    "im.chat.member.bot.deleted_v1": "BotRemovedFromChat",
    "contact.user.created_v3": "UserCreated",
    "application.bot.menu_v6": "BotMenuClicked",
    "card.action.trigger": "CardActionTrigger",
    "url.preview.get": "UrlPreviewGet",
    "message": "MessageV1",
    "app_ticket": "AppTicket",
    LEGACY_CARD_TYPE: "LegacyCardAction",
}

#: Every event type with a typed model → its model (a read-only mapping).
MODELS: Mapping[str, type[Any]] = ModelRegistry(
    {}, {**{t: (_LAZY[name], name) for t, name in _HAND_WRITTEN.items()}, **INDEX}
)
