"""Helpers for testing an app that receives Lark events: build, encrypt, sign and deliver requests.

Use them with Flask's, Django's or aiohttp's test clients, or with plain HTTP::

    from lark_events_core.testing import LarkSimulator

    sim = LarkSimulator(encrypt_key="k", verification_token="t")
    response = sim.post(client, "im.message.receive_v1")  # a realistic, encrypted, signed event

The lower-level builders stay available::

    req = sign_event(make_event("im.message.receive_v1", {...}, token="t"), encrypt_key="k")
    client.post("/webhook/event", data=req.body, headers=req.headers)

The pytest plugin (opt-in: ``pytest_plugins = ["lark_events_core.testing.pytest_plugin"]``) gives
tests a configured ``lark_simulator`` fixture.
"""

from __future__ import annotations

from .requests import (
    SignedRequest,
    make_challenge,
    make_event,
    make_legacy_card,
    make_v1_event,
    sign_event,
    sign_legacy_card,
)
from .simulator import LarkSimulator, SimulatedResponse, Simulator
from .templates import EVENT_TYPES, build_payload, event_body, set_path, template_kind

__all__ = [
    "EVENT_TYPES",
    "LarkSimulator",
    "SignedRequest",
    "SimulatedResponse",
    "Simulator",
    "build_payload",
    "event_body",
    "make_challenge",
    "make_event",
    "make_legacy_card",
    "make_v1_event",
    "set_path",
    "sign_event",
    "sign_legacy_card",
    "template_kind",
]
