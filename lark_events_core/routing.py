"""Routes within one event type: message matchers, card-action matchers, and the router.

Precedence inside a type (docs/routing.md):

1. routes with more conditions first (exact text counts more than a regex, a regex more than a
   prefix, when the number of conditions ties);
2. among routes equally specific, registration order;
3. the type's plain ``on(type)`` handler, when there is one, as the fallback.

Two routes with the same conditions, or a route whose conditions contradict each other, can
never be reached: registering one raises :class:`~lark_events_core.ConfigurationError`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from . import _json
from .context import HandlerContext
from .errors import ConfigurationError

__all__ = ["ActionMatcher", "Endpoint", "MessageMatcher", "Route", "Router", "message_text"]


@dataclass(frozen=True, slots=True)
class Endpoint:
    """A user function and how to call it."""

    fn: Callable[..., Any]
    takes_context: bool
    is_async: bool
    where: str


@dataclass(frozen=True, slots=True)
class MessageMatcher:
    """Conditions on an ``im.message.receive_v1`` event (``None``: any)."""

    text: str | None = None
    prefix: str | None = None
    regex: re.Pattern[str] | None = None
    chat_type: str | None = None
    mentioned: bool | None = None
    message_type: str | None = None

    def key(self) -> tuple[Any, ...]:
        """The conditions, comparable (two routes with one key shadow each other)."""
        pattern = None if self.regex is None else (self.regex.pattern, self.regex.flags)
        return (
            "message",
            self.text,
            self.prefix,
            pattern,
            self.chat_type,
            self.mentioned,
            self.message_type,
        )

    def specificity(self) -> tuple[int, int]:
        """(number of conditions, text strength): higher is tried first."""
        conditions = (
            self.text,
            self.prefix,
            self.regex,
            self.chat_type,
            self.mentioned,
            self.message_type,
        )
        strength = (
            3
            if self.text is not None
            else 2
            if self.regex is not None
            else (1 if self.prefix is not None else 0)
        )
        return sum(c is not None for c in conditions), strength

    def check(self) -> None:
        """Refuse conditions no message can satisfy."""
        texts = sum(c is not None for c in (self.text, self.prefix, self.regex))
        if texts > 1:
            raise ConfigurationError("a message route takes one of text, prefix or regex")
        if texts and self.message_type not in (None, "text"):
            raise ConfigurationError(
                f"a text condition never matches message_type={self.message_type!r} "
                "(only text messages have text)"
            )

    def match(self, data: Mapping[str, Any], bot_open_id: str | None, ctx: HandlerContext) -> bool:
        """Whether the event's ``data`` satisfies every condition (sets ``ctx.text``/``match``)."""
        message = data.get("message")
        if not isinstance(message, Mapping):
            return False
        if self.chat_type is not None and message.get("chat_type") != self.chat_type:
            return False
        if self.message_type is not None and message.get("message_type") != self.message_type:
            return False
        text, mentioned = message_text(message, bot_open_id)
        if self.mentioned is not None and mentioned != self.mentioned:
            return False
        found: re.Match[str] | None = None
        if self.text is not None or self.prefix is not None or self.regex is not None:
            if text is None:
                return False
            if self.text is not None and text != self.text:
                return False
            if self.prefix is not None and not text.startswith(self.prefix):
                return False
            if self.regex is not None:
                found = self.regex.search(text)
                if found is None:
                    return False
        ctx.text, ctx.match = text, found
        return True


@dataclass(frozen=True, slots=True)
class ActionMatcher:
    """Conditions on a card action (``card.action.trigger`` and legacy card callbacks)."""

    value: Mapping[str, Any] | None = None
    tag: str | None = None
    name: str | None = None

    def key(self) -> tuple[Any, ...]:
        """The conditions, comparable."""
        value = None if self.value is None else tuple(sorted(self.value.items(), key=repr))
        return ("action", value, self.tag, self.name)

    def specificity(self) -> tuple[int, int]:
        """(number of conditions, 0): each key of ``value`` counts as one."""
        count = (
            (len(self.value) if self.value else 0)
            + (self.tag is not None)
            + (self.name is not None)
        )
        return count, 0

    def check(self) -> None:
        """Nothing contradicts in a card-action route."""

    def match(self, data: Mapping[str, Any], bot_open_id: str | None, ctx: HandlerContext) -> bool:
        """Whether the card action in ``data`` satisfies every condition."""
        action = data.get("action")
        if not isinstance(action, Mapping):
            return False
        if self.tag is not None and action.get("tag") != self.tag:
            return False
        if self.name is not None and action.get("name") != self.name:
            return False
        if self.value:
            value = action.get("value")
            if not isinstance(value, Mapping):
                return False
            for k, v in self.value.items():
                if k not in value or value[k] != v:
                    return False
        return True


Matcher = MessageMatcher | ActionMatcher


@dataclass(frozen=True, slots=True)
class Route:
    """A matcher and the endpoint it leads to."""

    matcher: Matcher
    endpoint: Endpoint
    order: int


@dataclass(slots=True)
class Router:
    """The routes of one event type, in precedence order, and the fallback handler."""

    routes: list[Route] = field(default_factory=list)
    fallback: Endpoint | None = None

    def add(self, matcher: Matcher, endpoint: Endpoint) -> None:
        """Add a route; one that could never be reached is an error."""
        matcher.check()
        for route in self.routes:
            if route.matcher.key() == matcher.key():
                raise ConfigurationError(
                    f"route {endpoint.where} can never be reached: {route.endpoint.where} has the "
                    "same conditions and was registered first"
                )
        self.routes.append(Route(matcher, endpoint, len(self.routes)))
        self.routes.sort(key=lambda r: (tuple(-n for n in r.matcher.specificity()), r.order))

    def endpoints(self) -> list[Endpoint]:
        """Every endpoint, fallback included."""
        found = [r.endpoint for r in self.routes]
        return found if self.fallback is None else [*found, self.fallback]

    def select(
        self, data: Mapping[str, Any], bot_open_id: str | None, ctx: HandlerContext
    ) -> Endpoint | None:
        """The endpoint of the first route that matches, else the fallback."""
        for route in self.routes:
            if route.matcher.match(data, bot_open_id, ctx):
                return route.endpoint
        return self.fallback


def message_text(message: Mapping[str, Any], bot_open_id: str | None) -> tuple[str | None, bool]:
    """The text of a text message with the bot's @-mention removed, and whether it was there.

    The bot is the mention whose ``open_id`` is ``bot_open_id``; without one, a mention without a
    ``user_id`` (bots have none, people do when the app may read user ids).
    """
    mentions = message.get("mentions")
    bot_keys: list[str] = []
    if isinstance(mentions, list):
        for mention in mentions:
            if not isinstance(mention, Mapping):
                continue
            ids = mention.get("id")
            ids = ids if isinstance(ids, Mapping) else {}
            is_bot = ids.get("open_id") == bot_open_id if bot_open_id else not ids.get("user_id")
            key = mention.get("key")
            if is_bot and isinstance(key, str):
                bot_keys.append(key)
    text: str | None = None
    content = message.get("content")
    if message.get("message_type") == "text" and isinstance(content, str):
        try:
            parsed = _json.loads(content)
        except _json.JSONDecodeError:
            parsed = None
        if isinstance(parsed, Mapping) and isinstance(parsed.get("text"), str):
            text = parsed["text"]
            for key in bot_keys:
                text = text.replace(key, "")
            text = text.strip()
    return text, bool(bot_keys)
