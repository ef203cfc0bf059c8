"""Beyond the SDKs: several keys and tokens at once (rotation), and the optional replay window."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from lark_events_core import Request
from lark_events_core.testing import make_challenge, make_event
from tests.core.helpers import MESSAGE_TYPE, body_of, dispatcher, signed, signed_card

OLD_KEY, NEW_KEY = "key-old", "key-new"
OLD_TOKEN, NEW_TOKEN = "token-old", "token-new"


def _rotating(**options: Any) -> tuple[Any, list[Any]]:
    d = dispatcher([NEW_KEY, OLD_KEY], [NEW_TOKEN, OLD_TOKEN], **options)
    seen: list[Any] = []
    d.on(MESSAGE_TYPE, seen.append)
    return d, seen


@pytest.mark.parametrize("key", [NEW_KEY, OLD_KEY])
@pytest.mark.parametrize("token", [NEW_TOKEN, OLD_TOKEN])
def test_each_configured_key_and_token_is_accepted(key: str, token: str) -> None:
    d, seen = _rotating()
    response = d.handle(signed(make_event(MESSAGE_TYPE, {}, token=token), encrypt_key=key))
    assert response.status == 200
    assert len(seen) == 1


def test_a_key_outside_the_rotation_is_rejected() -> None:
    d, seen = _rotating()
    response = d.handle(signed(make_event(MESSAGE_TYPE, {}, token=NEW_TOKEN), encrypt_key="x"))
    assert (response.status, body_of(response)) == (401, {"msg": "signature mismatch"})
    assert seen == []


def test_a_token_outside_the_rotation_is_rejected() -> None:
    d, _ = _rotating()
    response = d.handle(signed(make_event(MESSAGE_TYPE, {}, token="token-x"), encrypt_key=OLD_KEY))
    assert response.status == 401


@pytest.mark.parametrize("key", [NEW_KEY, OLD_KEY])
def test_unsigned_encrypted_challenge_decrypts_with_any_configured_key(key: str) -> None:
    d, _ = _rotating()
    req = signed(make_challenge("rot", token=OLD_TOKEN), encrypt_key=key, sign=False)
    assert body_of(d.handle(req)) == {"challenge": "rot"}


@pytest.mark.parametrize("token", [NEW_TOKEN, OLD_TOKEN])
def test_legacy_card_signed_with_any_configured_token_is_accepted(token: str) -> None:
    from lark_events_core.testing import make_legacy_card

    d, _ = _rotating()
    d.on_legacy_card(lambda e: None)
    assert d.handle(signed_card(make_legacy_card(), token=token), card=True).status == 200


def test_timestamp_window_is_off_by_default() -> None:
    d, seen = _rotating()
    req = signed(make_event(MESSAGE_TYPE, {}, token=NEW_TOKEN), encrypt_key=NEW_KEY, timestamp="1")
    assert d.handle(req).status == 200
    assert len(seen) == 1


@pytest.mark.parametrize("skew", [-1000, 1000], ids=["stale", "future"])
def test_timestamp_outside_the_window_is_401(skew: int) -> None:
    d, seen = _rotating(timestamp_tolerance=300)
    ts = str(int(time.time()) + skew)
    req = signed(make_event(MESSAGE_TYPE, {}, token=NEW_TOKEN), encrypt_key=NEW_KEY, timestamp=ts)
    response = d.handle(req)
    assert (response.status, body_of(response)) == (
        401,
        {"msg": "timestamp outside the allowed window"},
    )
    assert seen == []


def test_timestamp_inside_the_window_passes() -> None:
    d, seen = _rotating(timestamp_tolerance=300)
    ts = str(int(time.time()) - 60)
    req = signed(make_event(MESSAGE_TYPE, {}, token=NEW_TOKEN), encrypt_key=NEW_KEY, timestamp=ts)
    assert d.handle(req).status == 200
    assert len(seen) == 1


@pytest.mark.parametrize("ts", ["soon", "nan", "inf", "", "1e400"])
def test_a_timestamp_that_is_not_a_finite_number_is_401(ts: str) -> None:
    d, _ = _rotating(timestamp_tolerance=300)
    req = signed(make_event(MESSAGE_TYPE, {}, token=NEW_TOKEN), encrypt_key=NEW_KEY, timestamp=ts)
    if ts == "":
        # An empty timestamp header: the helper fills in "now", so write the header ourselves.
        headers = {**dict(req.headers.items()), "x-lark-request-timestamp": ""}
        req = Request.build("POST", headers, req.body)
    assert d.handle(req).status == 401


def test_legacy_card_timestamp_is_checked_too() -> None:
    from lark_events_core.testing import make_legacy_card

    d, _ = _rotating(timestamp_tolerance=300)
    d.on_legacy_card(lambda e: None)
    stale = signed_card(make_legacy_card(), token=NEW_TOKEN, timestamp="1000")
    assert d.handle(stale, card=True).status == 401
    fresh = signed_card(make_legacy_card(), token=NEW_TOKEN)
    assert d.handle(fresh, card=True).status == 200


def test_challenge_is_unsigned_so_the_window_does_not_apply() -> None:
    d, _ = _rotating(timestamp_tolerance=300)
    body = json.dumps(make_challenge("w", token=NEW_TOKEN)).encode()
    assert body_of(d.handle(Request.build("POST", {}, body))) == {"challenge": "w"}
