"""Builders for callback response bodies: toasts, card updates and URL previews.

A callback handler may return one of these, a plain ``dict``, or nothing (which answers ``{}``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

__all__ = [
    "CallbackResponse",
    "Card",
    "SupportsToDict",
    "Toast",
    "UrlPreview",
    "result_to_body",
]

ToastType = Literal["info", "success", "error", "warning"]


@runtime_checkable
class SupportsToDict(Protocol):
    """Anything that turns itself into a JSON object."""

    def to_dict(self) -> dict[str, Any]:
        """The JSON object to answer with."""
        ...


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


def result_to_body(result: object) -> dict[str, Any]:
    """Turn a handler's return value into the callback's JSON object.

    ``None`` → ``{}``; a mapping is copied; a builder is asked for its dict. Anything else is a
    programming error (``TypeError``), answered as a handler failure.
    """
    if result is None:
        return {}
    if isinstance(result, SupportsToDict):
        return result.to_dict()
    if isinstance(result, Mapping):
        return dict(result)
    raise TypeError(f"a callback handler returned {type(result).__name__}, not a dict or builder")
