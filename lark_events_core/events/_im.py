"""Instant-messaging events: ``im.message.*`` and ``im.chat.member.bot.*``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec

from .. import _json
from .common import UserId

__all__ = [
    "BotAddedToChat",
    "BotRemovedFromChat",
    "ChatI18nNames",
    "Mention",
    "Message",
    "MessageRead",
    "MessageReader",
    "MessageReceive",
    "MessageSender",
]


class MessageSender(msgspec.Struct, frozen=True, gc=False):
    """Who sent a message."""

    sender_id: UserId | None = None
    sender_type: str | None = None
    tenant_key: str | None = None


class Mention(msgspec.Struct, frozen=True, gc=False):
    """An @-mention in a message; ``key`` (``@_user_1``) is its placeholder in the text."""

    key: str | None = None
    id: UserId | None = None
    name: str | None = None
    tenant_key: str | None = None


class Message(msgspec.Struct, frozen=True, gc=False):
    """A message as delivered by ``im.message.receive_v1``; ``content`` is a JSON string."""

    message_id: str | None = None
    root_id: str | None = None
    parent_id: str | None = None
    create_time: str | None = None
    update_time: str | None = None
    chat_id: str | None = None
    thread_id: str | None = None
    chat_type: str | None = None
    message_type: str | None = None
    content: str | None = None
    mentions: tuple[Mention, ...] = ()
    user_agent: str | None = None

    @property
    def content_json(self) -> Mapping[str, Any]:
        """``content`` parsed (``{}`` when it is absent or not a JSON object)."""
        if not self.content:
            return {}
        try:
            value = _json.loads(self.content)
        except _json.JSONDecodeError:
            return {}
        return value if isinstance(value, Mapping) else {}

    @property
    def text(self) -> str | None:
        """The text of a ``text`` message (mentions appear as their ``@_user_N`` keys)."""
        if self.message_type != "text" or not self.content:
            return None
        try:  # straight to the one field (a str, else None): no dict of the whole content
            return _decode_text(self.content).text
        except _json.DECODE_FAILURES:
            return None


class _TextContent(msgspec.Struct, gc=False):
    text: str | None = None


_decode_text = msgspec.json.Decoder(_TextContent).decode


class MessageReceive(msgspec.Struct, frozen=True, gc=False):
    """``im.message.receive_v1``: a user sent the bot a message, or a message in a chat it is in."""

    sender: MessageSender | None = None
    message: Message | None = None


class MessageReader(msgspec.Struct, frozen=True, gc=False):
    """Who read messages, and when (epoch ms)."""

    reader_id: UserId | None = None
    read_time: str | None = None
    tenant_key: str | None = None


class MessageRead(msgspec.Struct, frozen=True, gc=False):
    """``im.message.message_read_v1``: a user read messages the bot sent."""

    reader: MessageReader | None = None
    message_id_list: tuple[str, ...] = ()


class ChatI18nNames(msgspec.Struct, frozen=True, gc=False):
    """A chat's name per language."""

    zh_cn: str | None = None
    en_us: str | None = None
    ja_jp: str | None = None


class BotAddedToChat(msgspec.Struct, frozen=True, gc=False):
    """``im.chat.member.bot.added_v1``: the bot was added to a chat."""

    chat_id: str | None = None
    operator_id: UserId | None = None
    external: bool | None = None
    operator_tenant_key: str | None = None
    name: str | None = None
    i18n_names: ChatI18nNames | None = None


class BotRemovedFromChat(msgspec.Struct, frozen=True, gc=False):
    """``im.chat.member.bot.deleted_v1``: the bot was removed from a chat."""

    chat_id: str | None = None
    operator_id: UserId | None = None
    external: bool | None = None
    operator_tenant_key: str | None = None
    name: str | None = None
    i18n_names: ChatI18nNames | None = None
