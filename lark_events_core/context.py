"""The handler's optional second parameter: :class:`HandlerContext` (reply, send, update_card).

A handler that takes two parameters gets the event and a context bound to it::

    @dispatcher.message("/help")
    def help_(event, ctx):
        ctx.reply("Commands: /help, /deploy")        # sync handler

    @dispatcher.message(prefix="/deploy")
    async def deploy(event, ctx):
        await ctx.areply("deploying " + ctx.text)    # async handler

The Open API calls need the dispatcher's client (``Dispatcher(openapi=OpenAPIClient.from_env())``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ._log import safe
from .errors import ConfigurationError

if TYPE_CHECKING:
    import logging
    import re

    from ._event_logger import EventLogger
    from .events.base import Event
    from .outbound import OpenAPIClient, Replier

__all__ = ["EventLogger", "HandlerContext"]

_NO_CLIENT = (
    "ctx.{name}() needs an Open API client: build the dispatcher with "
    "Dispatcher(openapi=OpenAPIClient.from_env()) (the `openapi` setting; "
    "OpenAPIClient is in lark_events_core.outbound, extra 'outbound')"
)


def __getattr__(name: str) -> Any:
    if name == "EventLogger":  # in its own module: importing the core does not import logging
        from ._event_logger import EventLogger

        return EventLogger
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class HandlerContext:
    """What a handler may need beyond the event: replies, the client, a logger, the route's match.

    ``text`` is the message text with the bot's @-mention removed (message routes), ``match`` the
    regular-expression match of a ``regex`` route. ``reply``/``send``/``update_card`` are for sync
    handlers, ``areply``/``asend``/``aupdate_card`` for async ones.
    """

    __slots__ = ("_logger", "_replier", "client", "event", "match", "text")

    def __init__(self, event: Event[Any], client: OpenAPIClient | None) -> None:
        self.event = event
        self.client = client
        self.text: str | None = None
        self.match: re.Match[str] | None = None
        self._logger: EventLogger | None = None
        self._replier: Replier | None = None

    @property
    def logger(self) -> logging.LoggerAdapter:  # type: ignore[type-arg]
        """A logger whose messages carry the event's id and type (escaped)."""
        if self._logger is None:
            from ._event_logger import EventLogger
            from ._log import package_logger

            event = self.event
            self._logger = EventLogger(
                package_logger(),
                {"event_id": safe(event.event_id), "event_type": safe(event.type)},
            )
        return self._logger

    def replier(self, name: str = "reply") -> Replier:
        """The client's :class:`~lark_events_core.outbound.Replier` bound to this event."""
        if self._replier is None:
            if self.client is None:
                raise ConfigurationError(_NO_CLIENT.format(name=name))
            self._replier = self.client.for_event(self.event)
        return self._replier

    # -- async -------------------------------------------------------------------------------

    async def areply(
        self, content: str | Mapping[str, Any], *, in_thread: bool = False
    ) -> dict[str, Any]:
        """Reply to the event's message with text (a ``str``) or a card (a ``dict``)."""
        replier = self.replier("areply")
        if isinstance(content, str):
            return await replier.reply_text(content, in_thread=in_thread)
        return await replier.reply_card(content, in_thread=in_thread)

    async def asend(self, content: str | Mapping[str, Any]) -> dict[str, Any]:
        """Post text or a card to the event's chat (not as a reply)."""
        replier = self.replier("asend")
        if isinstance(content, str):
            return await replier.send_text(content)
        return await replier.send_card(content)

    async def aupdate_card(
        self, card: Mapping[str, Any], *, open_ids: list[str] | None = None
    ) -> dict[str, Any]:
        """Update the clicked card later, with the callback's card token."""
        return await self.replier("aupdate_card").update_card(card, open_ids=open_ids)

    # -- sync ------------------------------------------------------------------------------

    def reply(self, content: str | Mapping[str, Any], *, in_thread: bool = False) -> dict[str, Any]:
        """:meth:`areply` from a sync handler."""
        return self.replier("reply").client.run_sync(self.areply(content, in_thread=in_thread))

    def send(self, content: str | Mapping[str, Any]) -> dict[str, Any]:
        """:meth:`asend` from a sync handler."""
        return self.replier("send").client.run_sync(self.asend(content))

    def update_card(
        self, card: Mapping[str, Any], *, open_ids: list[str] | None = None
    ) -> dict[str, Any]:
        """:meth:`aupdate_card` from a sync handler."""
        return self.replier("update_card").client.run_sync(
            self.aupdate_card(card, open_ids=open_ids)
        )

    def __repr__(self) -> str:
        return f"HandlerContext(event={self.event!r}, client={self.client!r})"
