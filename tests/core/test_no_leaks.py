"""Secrets and bodies never reach a log record or a response, over a whole varied run."""

from __future__ import annotations

import json
import logging
import warnings
from typing import Any

import pytest

from lark_events_core import Dispatcher, Request, Response, encrypt
from lark_events_core.testing import (
    make_challenge,
    make_event,
    make_legacy_card,
    sign_event,
    sign_legacy_card,
)

KEY = "KEY-LEAKMARK-4b1d"
TOKEN = "TOKEN-LEAKMARK-77e0"
BODY = "BODY-LEAKMARK-c0de"
MARKERS = ("LEAKMARK",)


def _requests() -> list[tuple[Request, bool]]:
    """A varied run: accepted, rejected, failing, callbacks, cards, garbage."""
    out: list[tuple[Request, bool]] = []

    def add(payload: Any, card: bool = False, **opts: Any) -> None:
        s = sign_event(payload, encrypt_key=opts.pop("key", KEY), **opts)
        out.append((Request.build(opts.get("method", "POST"), s.headers, s.body), card))

    event = make_event("im.message.receive_v1", {"message": {"content": BODY}}, token=TOKEN)
    add(event)
    add(event)  # duplicate
    add(make_event("boom.type", {"x": BODY}, token=TOKEN))  # handler raises
    add(make_event("unknown.type", {"x": BODY}, token=TOKEN))
    add(make_event("card.action.trigger", {"x": BODY}, token=TOKEN))
    add(make_event("im.message.receive_v1", {"x": BODY}, token=TOKEN + "x"))  # wrong token
    add(make_event("im.message.receive_v1", {"x": BODY}, token=TOKEN), key="other-LEAKMARK")
    add(make_event("im.message.receive_v1", {"x": BODY}, token=TOKEN), sign=False)
    add(make_challenge(BODY, token=TOKEN), sign=False)
    add(make_challenge("c", token=BODY), sign=False)
    card = make_legacy_card({"value": {"v": BODY}}, card_token=BODY)
    s = sign_legacy_card(card, verification_token=TOKEN)
    out.append((Request.build("POST", s.headers, s.body), True))
    s = sign_legacy_card(card, verification_token="wrong-LEAKMARK")
    out.append((Request.build("POST", s.headers, s.body), True))
    for raw in (BODY.encode(), b'{"encrypt":"' + BODY.encode() + b'"}', b"[" + BODY.encode()):
        out.append((Request.build("POST", {}, raw), False))
    bad_key = json.dumps({"encrypt": encrypt(BODY, "LEAKMARK-other")}).encode()
    out.append((Request.build("POST", {}, bad_key), False))
    out.append((Request.build("GET", {}, BODY.encode()), False))
    out.append((Request.build("POST", {}, BODY.encode() * 100), False))
    return out


def _dispatcher(**options: Any) -> Dispatcher:
    d = Dispatcher(KEY, TOKEN, max_body_bytes=1000, timestamp_tolerance=300, **options)
    d.on("im.message.receive_v1", lambda e: None)
    d.on("card.action.trigger", lambda e: {"ok": True})
    d.on_legacy_card(lambda e: None)

    def boom(event: Any) -> None:
        raise RuntimeError("handler failed")

    d.on("boom.type", boom)
    return d


def _assert_clean(responses: list[Response], caplog: pytest.LogCaptureFixture) -> None:
    assert caplog.records, "the run logged nothing: the check would be vacuous"
    for record in caplog.records:
        text = record.getMessage()
        if record.exc_info and record.exc_info[1] is not None:
            text += repr(record.exc_info[1].args)
        for marker in MARKERS:
            assert marker not in text, text
    for response in responses:
        # A challenge is echoed by design; everything else must not carry input.
        if response.status == 200 and b"challenge" in response.body:
            continue
        assert b"LEAKMARK" not in response.body, response


def test_no_secret_or_body_in_logs_or_responses_sync(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG):
        d = _dispatcher()
        responses = [d.handle(req, card=card) for req, card in _requests()]
    statuses = {r.status for r in responses}
    assert {200, 400, 401, 405, 413, 500} <= statuses
    _assert_clean(responses, caplog)


def test_no_secret_or_body_in_logs_or_responses_async(caplog: pytest.LogCaptureFixture) -> None:
    import asyncio

    async def main() -> list[Response]:
        d = _dispatcher()
        return [await d.handle_async(req, card=card) for req, card in _requests()]

    with caplog.at_level(logging.DEBUG):
        responses = asyncio.run(main())
    _assert_clean(responses, caplog)


def test_no_secret_in_the_misconfiguration_log(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        d = Dispatcher(verification_token=TOKEN)
        s = sign_event(make_event("a.b", {"x": BODY}, token=TOKEN), encrypt_key=KEY)
        response = d.handle(Request.build("POST", s.headers, s.body))
    assert response.status == 500
    _assert_clean([response], caplog)
