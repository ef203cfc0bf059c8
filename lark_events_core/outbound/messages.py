"""Message bodies as the IM API wants them: ``msg_type`` plus ``content``, a JSON *string*."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .. import _json
from ..results import Card

__all__ = [
    "MSG_TYPES",
    "RECEIVE_ID_TYPES",
    "card_content",
    "check_receive_id_type",
    "encode_content",
    "post_content",
    "text_content",
]

#: How ``receive_id`` is read by ``im/v1/messages``.
RECEIVE_ID_TYPES = frozenset({"open_id", "user_id", "union_id", "email", "chat_id"})

#: The message types the IM API sends.
MSG_TYPES = frozenset(
    {
        "text",
        "post",
        "image",
        "file",
        "audio",
        "media",
        "sticker",
        "interactive",
        "share_chat",
        "share_user",
        "system",
    }
)


def check_receive_id_type(value: str) -> str:
    """``value`` if the API accepts it as ``receive_id_type``; ``ValueError`` otherwise."""
    if value not in RECEIVE_ID_TYPES:
        raise ValueError(f"receive_id_type must be one of {sorted(RECEIVE_ID_TYPES)}")
    return value


def encode_content(content: str | Mapping[str, Any]) -> str:
    """A mapping as a JSON string; a string is taken to be JSON already."""
    if isinstance(content, str):
        return content
    return _json.dumps(dict(content)).decode("utf-8")


def text_content(text: str) -> str:
    """The ``content`` of a ``text`` message."""
    return encode_content({"text": text})


def post_content(post: Mapping[str, Any]) -> str:
    """The ``content`` of a ``post`` (rich text) message: ``{"zh_cn": {"title", "content"}}``."""
    return encode_content(post)


def card_content(card: Mapping[str, Any] | Card) -> str:
    """The ``content`` of an ``interactive`` message: card JSON, or a card-builder template."""
    return encode_content(card_object(card))


def card_object(card: Mapping[str, Any] | Card) -> dict[str, Any]:
    """A card as a JSON object: raw card JSON, or ``{"type": "template", "data": ...}``."""
    if isinstance(card, Card):
        if card.type == "template":
            return {"type": "template", "data": dict(card.data)}
        return dict(card.data)
    return dict(card)
