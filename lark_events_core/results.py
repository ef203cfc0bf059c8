"""Builders for callback response bodies: toasts, card updates and URL previews.

A callback handler may return one of these, a plain ``dict``, or nothing (which answers ``{}``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

# A callback's result becomes its body in ._responses: the dispatcher needs that on every
# callback, these builders only when a handler uses them (their dataclasses cost ~2 ms to build).
from ._responses import SupportsToDict, result_to_body

__all__ = [
    "CallbackResponse",
    "Card",
    "SupportsToDict",
    "Toast",
    "UrlPreview",
    "result_to_body",
]

ToastType = Literal["info", "success", "error", "warning"]


@dataclass(frozen=True, slots=True)
class Toast:
    """A toast shown to the user who clicked; ``i18n`` maps locales (``zh_cn``) to text."""

    content: str
    type: ToastType = "info"
    i18n: Mapping[str, str] | None = None

    def to_dict(self) -> dict[str, Any]:
        """``{"toast": {...}}``."""
        return {"toast": self._toast()}

    def _toast(self) -> dict[str, Any]:
        toast: dict[str, Any] = {"type": self.type, "content": self.content}
        if self.i18n:
            toast["i18n"] = dict(self.i18n)
        return toast


@dataclass(frozen=True, slots=True)
class Card:
    """A card to show instead of the clicked one: raw card JSON, or a template with variables."""

    data: Mapping[str, Any]
    type: Literal["raw", "template"] = "raw"

    @classmethod
    def raw(cls, card: Mapping[str, Any]) -> Card:
        """A card given as its full JSON."""
        return cls(data=card, type="raw")

    @classmethod
    def template(
        cls,
        template_id: str,
        variables: Mapping[str, Any] | None = None,
        version: str | None = None,
    ) -> Card:
        """A card built from a template of the card builder."""
        data: dict[str, Any] = {"template_id": template_id}
        if variables is not None:
            data["template_variable"] = dict(variables)
        if version is not None:
            data["template_version_name"] = version
        return cls(data=data, type="template")

    def to_dict(self) -> dict[str, Any]:
        """``{"card": {...}}``."""
        return {"card": {"type": self.type, "data": dict(self.data)}}


@dataclass(frozen=True, slots=True)
class CallbackResponse:
    """A toast, a card update, or both."""

    toast: Toast | None = None
    card: Card | None = None

    def to_dict(self) -> dict[str, Any]:
        """The combined body."""
        body: dict[str, Any] = {}
        if self.toast is not None:
            body.update(self.toast.to_dict())
        if self.card is not None:
            body.update(self.card.to_dict())
        return body


@dataclass(frozen=True, slots=True)
class UrlPreview:
    """The answer to ``url.preview.get``: an inline title, and optionally a card."""

    title: str | None = None
    i18n_title: Mapping[str, str] | None = None
    image_key: str | None = None
    url: Mapping[str, str] | None = None
    card: Card | None = field(default=None)

    def to_dict(self) -> dict[str, Any]:
        """``{"inline": {...}, "card": {...}}``."""
        inline: dict[str, Any] = {}
        if self.title is not None:
            inline["title"] = self.title
        if self.i18n_title:
            inline["i18n_title"] = dict(self.i18n_title)
        if self.image_key is not None:
            inline["image_key"] = self.image_key
        if self.url:
            inline["url"] = dict(self.url)
        body: dict[str, Any] = {}
        if inline:
            body["inline"] = inline
        if self.card is not None:
            body.update(self.card.to_dict())
        return body
