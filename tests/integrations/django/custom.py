"""A user's own dispatcher, named by ``LARK_EVENTS["DISPATCHER"]`` in the tests."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from lark_events_core import Dispatcher, Event, MemoryDedupStore
from tests.support.vectors import receiver

CUSTOM_CALLS: list[str] = []

dispatcher = Dispatcher(
    encrypt_key=receiver()["encrypt_key"], verification_token=receiver()["verification_token"]
)


@dispatcher.on("im.message.receive_v1")
def on_message(event: Event[Any]) -> None:
    CUSTOM_CALLS.append(event.event_id or "-")


def make_dispatcher() -> Dispatcher:
    """A factory, the other form ``DISPATCHER`` accepts."""
    return dispatcher


def not_a_dispatcher() -> object:
    return object()


#: A store instance for ``LARK_EVENTS["DEDUP"]``.
STORE = MemoryDedupStore()


#: ``LARK_EVENTS["BACKGROUND_CONTEXT"]`` / ``["ON_GIVE_UP"]`` name these functions.
CONTEXTS: list[str] = []


@contextlib.contextmanager
def background_context(event: Event[Any]) -> Iterator[None]:
    CONTEXTS.append(event.event_id or "-")
    yield


def on_give_up(event: Event[Any], error: BaseException) -> None:
    CONTEXTS.append(f"gave up {event.event_id}")
