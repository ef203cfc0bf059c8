"""Events of the v1 ("event_callback") format: ``message`` and ``app_ticket``."""

from __future__ import annotations

import msgspec

from ._model import hiding_repr

__all__ = ["AppTicket", "MessageV1"]


class MessageV1(msgspec.Struct, frozen=True, gc=False):
    """v1 ``message``: a message to the bot (the older format, still sent to some apps)."""

    type: str | None = None
    app_id: str | None = None
    tenant_key: str | None = None
    root_id: str | None = None
    parent_id: str | None = None
    open_chat_id: str | None = None
    chat_type: str | None = None
    msg_type: str | None = None
    open_id: str | None = None
    employee_id: str | None = None
    union_id: str | None = None
    open_message_id: str | None = None
    is_mention: bool | None = None
    text: str | None = None
    text_without_at_bot: str | None = None
    title: str | None = None
    image_key: str | None = None
    file_key: str | None = None


class AppTicket(msgspec.Struct, frozen=True, gc=False):
    """v1 ``app_ticket``: the ticket a store app needs to get its app access token."""

    type: str | None = None
    app_id: str | None = None
    app_ticket: str | None = None

    __repr__ = hiding_repr("app_ticket")
