"""Helpers for testing an app that receives Lark events: build, encrypt and sign requests.

Use them with Flask's, Django's or aiohttp's test clients, or with plain HTTP::

    from lark_events_core.testing import make_event, sign_event

    req = sign_event(make_event("im.message.receive_v1", {...}, token="v"), encrypt_key="k")
    client.post("/webhook/event", data=req.body, headers=req.headers)
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

__all__ = [
    "SignedRequest",
    "make_challenge",
    "make_event",
    "make_legacy_card",
    "make_v1_event",
    "sign_event",
    "sign_legacy_card",
]
