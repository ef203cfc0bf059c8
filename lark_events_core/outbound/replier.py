"""The reply helper: Open API calls bound to one event (its tenant, message, chat, card token).

::

    replier = client.for_event(event)
    await replier.reply_text("hi")      # async handlers
    replier.reply_text_sync("hi")       # sync handlers (WSGI threads, Django views)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..events.base import Event, Kind
from ..results import Card
from .messages import card_content, post_content, text_content

if TYPE_CHECKING:
    from .client import OpenAPIClient

__all__ = ["Replier"]


def _str(mapping: Mapping[str, Any] | None, key: str) -> str | None:
    if not isinstance(mapping, Mapping):
        return None
    value = mapping.get(key)
    return value if isinstance(value, str) and value else None


def _map(mapping: Mapping[str, Any] | None, key: str) -> Mapping[str, Any] | None:
    if not isinstance(mapping, Mapping):
        return None
    value = mapping.get(key)
    return value if isinstance(value, Mapping) else None


@dataclass(frozen=True)
class Replier:
    """What an event points at, and the calls that answer it.

    ``message_id`` is the message to reply to (a received message, or the card that was clicked),
    ``chat_id`` its chat, ``open_id`` the user who acted, ``card_token`` the credential of a
    delayed card update. Fields the event does not carry are ``None``, and calls that need them
    raise ``ValueError``.
    """

    client: OpenAPIClient
    tenant_key: str | None = None
    message_id: str | None = None
    chat_id: str | None = None
    open_id: str | None = None
    card_token: str | None = field(default=None, repr=False)

    @classmethod
    def from_event(cls, client: OpenAPIClient, event: Event[Any]) -> Replier:
        """Read the targets of ``event`` (messages, v1 messages, card callbacks, bot menu)."""
        data = event.data
        tenant_key = event.tenant_key or _str(data, "tenant_key")
        message_id = chat_id = open_id = card_token = None
        if event.kind is Kind.LEGACY_CARD or event.kind is Kind.EVENT_V1:
            message_id = _str(data, "open_message_id")
            chat_id = _str(data, "open_chat_id")
            open_id = _str(data, "open_id")
            if event.kind is Kind.LEGACY_CARD:
                card_token = _str(data, "token")
        else:
            message = _map(data, "message")
            context = _map(data, "context")
            if message is not None:
                message_id = _str(message, "message_id")
                chat_id = _str(message, "chat_id")
            elif context is not None:
                message_id = _str(context, "open_message_id")
                chat_id = _str(context, "open_chat_id")
            else:
                chat_id = _str(data, "chat_id")
            sender_id = _map(_map(data, "sender"), "sender_id")
            operator = _map(data, "operator")
            open_id = (
                _str(sender_id, "open_id")
                or _str(operator, "open_id")
                or _str(_map(operator, "operator_id"), "open_id")
            )
            tenant_key = tenant_key or _str(operator, "tenant_key")
            if event.kind is Kind.CALLBACK:
                card_token = _str(data, "token")
        return cls(client, tenant_key, message_id, chat_id, open_id, card_token)

    def _need(self, value: str | None, what: str) -> str:
        if not value:
            raise ValueError(f"this event carries no {what}")
        return value

    # -- async -------------------------------------------------------------------------------

    async def reply(
        self, msg_type: str, content: str | Mapping[str, Any], *, in_thread: bool = False
    ) -> dict[str, Any]:
        """Reply to the event's message; returns the API's ``data`` (with ``message_id``)."""
        return await self.client.reply_message(
            self._need(self.message_id, "message to reply to"),
            msg_type,
            content,
            reply_in_thread=in_thread,
            tenant_key=self.tenant_key,
        )

    async def reply_text(self, text: str, *, in_thread: bool = False) -> dict[str, Any]:
        """Reply with text."""
        return await self.reply("text", text_content(text), in_thread=in_thread)

    async def reply_post(
        self, post: Mapping[str, Any], *, in_thread: bool = False
    ) -> dict[str, Any]:
        """Reply with rich text (``{"zh_cn": {"title": .., "content": [[..]]}}``)."""
        return await self.reply("post", post_content(post), in_thread=in_thread)

    async def reply_card(
        self, card: Mapping[str, Any] | Card, *, in_thread: bool = False
    ) -> dict[str, Any]:
        """Reply with an interactive card."""
        return await self.reply("interactive", card_content(card), in_thread=in_thread)

    async def send_text(self, text: str) -> dict[str, Any]:
        """Post text to the event's chat (not as a reply)."""
        return await self.client.send_text(
            self._need(self.chat_id, "chat"),
            text,
            receive_id_type="chat_id",
            tenant_key=self.tenant_key,
        )

    async def send_card(self, card: Mapping[str, Any] | Card) -> dict[str, Any]:
        """Post a card to the event's chat."""
        return await self.client.send_card(
            self._need(self.chat_id, "chat"),
            card,
            receive_id_type="chat_id",
            tenant_key=self.tenant_key,
        )

    async def update_card(
        self, card: Mapping[str, Any] | Card, *, open_ids: list[str] | None = None
    ) -> dict[str, Any]:
        """Delayed update of the clicked card (after the callback was answered)."""
        return await self.client.update_card(
            self._need(self.card_token, "card token (only card callbacks have one)"),
            card,
            open_ids=open_ids,
            tenant_key=self.tenant_key,
        )

    # -- sync (from threads without a running event loop) ---------------------------------------

    def reply_sync(
        self, msg_type: str, content: str | Mapping[str, Any], *, in_thread: bool = False
    ) -> dict[str, Any]:
        """:meth:`reply` from sync code."""
        return self.client.run_sync(self.reply(msg_type, content, in_thread=in_thread))

    def reply_text_sync(self, text: str, *, in_thread: bool = False) -> dict[str, Any]:
        """:meth:`reply_text` from sync code."""
        return self.client.run_sync(self.reply_text(text, in_thread=in_thread))

    def reply_post_sync(
        self, post: Mapping[str, Any], *, in_thread: bool = False
    ) -> dict[str, Any]:
        """:meth:`reply_post` from sync code."""
        return self.client.run_sync(self.reply_post(post, in_thread=in_thread))

    def reply_card_sync(
        self, card: Mapping[str, Any] | Card, *, in_thread: bool = False
    ) -> dict[str, Any]:
        """:meth:`reply_card` from sync code."""
        return self.client.run_sync(self.reply_card(card, in_thread=in_thread))

    def send_text_sync(self, text: str) -> dict[str, Any]:
        """:meth:`send_text` from sync code."""
        return self.client.run_sync(self.send_text(text))

    def send_card_sync(self, card: Mapping[str, Any] | Card) -> dict[str, Any]:
        """:meth:`send_card` from sync code."""
        return self.client.run_sync(self.send_card(card))

    def update_card_sync(
        self, card: Mapping[str, Any] | Card, *, open_ids: list[str] | None = None
    ) -> dict[str, Any]:
        """:meth:`update_card` from sync code."""
        return self.client.run_sync(self.update_card(card, open_ids=open_ids))
