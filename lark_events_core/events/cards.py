"""Callbacks: ``card.action.trigger``, ``url.preview.get`` and the legacy message-card callback."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec

from ._model import hiding_repr

__all__ = [
    "CallbackContext",
    "CallbackOperator",
    "CardAction",
    "CardActionTrigger",
    "LegacyCardAction",
    "UrlPreviewGet",
]


class CallbackOperator(msgspec.Struct, frozen=True, gc=False):
    """The user who triggered a callback."""

    tenant_key: str | None = None
    user_id: str | None = None
    open_id: str | None = None
    union_id: str | None = None


class CallbackContext(msgspec.Struct, frozen=True, gc=False):
    """Where the callback happened."""

    url: str | None = None
    preview_token: str | None = None
    open_message_id: str | None = None
    open_chat_id: str | None = None


class CardAction(msgspec.Struct, frozen=True, gc=False):
    """What the user did on the card: ``value`` is what the card's author attached to it."""

    value: Any = None
    tag: str | None = None
    option: str | None = None
    options: tuple[str, ...] = ()
    checked: bool | None = None
    timezone: str | None = None
    name: str | None = None
    input_value: str | None = None
    form_value: Mapping[str, Any] | None = None


class CardActionTrigger(msgspec.Struct, frozen=True, gc=False):
    """``card.action.trigger``: a card interaction; ``token`` is the card-update credential."""

    operator: CallbackOperator | None = None
    token: str | None = None
    action: CardAction | None = None
    host: str | None = None
    delivery_type: str | None = None
    context: CallbackContext | None = None

    __repr__ = hiding_repr("token")


class UrlPreviewGet(msgspec.Struct, frozen=True, gc=False):
    """``url.preview.get``: a link of the app's was pasted and needs a preview."""

    operator: CallbackOperator | None = None
    host: str | None = None
    context: CallbackContext | None = None


class LegacyCardAction(msgspec.Struct, frozen=True, gc=False):
    """A legacy message-card callback (its own request URL); ``token`` updates the card."""

    open_id: str | None = None
    user_id: str | None = None
    union_id: str | None = None
    tenant_key: str | None = None
    open_message_id: str | None = None
    open_chat_id: str | None = None
    token: str | None = None
    action: CardAction | None = None

    __repr__ = hiding_repr("token")
