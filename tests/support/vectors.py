"""The byte-exact protocol vectors (a copy of shared/vectors/webhook.json; keep it byte-exact)."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

VECTORS_PATH = Path(__file__).resolve().parents[1] / "vectors" / "webhook.json"


@cache
def vectors() -> dict[str, Any]:
    """The parsed vectors file."""
    data: dict[str, Any] = json.loads(VECTORS_PATH.read_bytes())
    return data


def request_vectors() -> list[dict[str, Any]]:
    """Each request vector: name, headers, body (text), expect_status, maybe expect_json."""
    return list(vectors()["requests"])


def receiver() -> dict[str, Any]:
    """How the receiver in the vectors is configured (key, token, handled types)."""
    return dict(vectors()["receiver"])


def core_answer(vector: dict[str, Any]) -> tuple[int, Any]:
    """The status and JSON body the core itself gives ``vector`` (``Dispatcher.handle`` on
    ``Request.build``, configured as :func:`receiver`): an adapter answers every vector the same,
    the message included, where a vector gives only the status."""
    from lark_events_core import Dispatcher, Event, Request

    config = receiver()
    dispatcher = Dispatcher(
        encrypt_key=config["encrypt_key"],
        verification_token=config["verification_token"],
        dedup=False,
    )

    def ignore(event: Event[Any]) -> None:
        del event

    for event_type in config["handlers"]:
        dispatcher.on(event_type, ignore)
    body = vector["body"].encode("utf-8")
    response = dispatcher.handle(Request.build("POST", vector["headers"], body, "/webhook/event"))
    return response.status, json.loads(response.body)
