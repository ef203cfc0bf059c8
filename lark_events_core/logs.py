"""Log-line helpers for your handlers: show a wire value without letting it forge a line.

::

    from lark_events_core.logs import printable

    log.info("handled event_type=%s event_id=%s", printable(event.type), printable(event.event_id))

Every value in an event comes from the network: an ``event_id`` holding ``\\n`` would otherwise
start a line of the attacker's choosing in your log.
"""

from __future__ import annotations

from ._log import safe as printable

__all__ = ["printable"]
