"""Verification token rules of PROTOCOL.md §6."""

from __future__ import annotations

import json
import warnings
from typing import Any

import pytest

from lark_events_core import Dispatcher, Request
from lark_events_core.testing import make_challenge, make_event, make_v1_event
from tests.core.helpers import KEY, MESSAGE_TYPE, TOKEN, body_of, dispatcher, signed


def _plain(payload: dict[str, Any]) -> Request:
    return Request.build("POST", {}, json.dumps(payload).encode())


def _token_only() -> Dispatcher:
    d = dispatcher(encrypt_key=None)
    d.on(MESSAGE_TYPE, lambda e: None)
    d.on("message", lambda e: None)
    return d


@pytest.mark.parametrize(
    "payload",
    [
        make_event(MESSAGE_TYPE, {}, token=TOKEN),
        make_v1_event("message", {}, token=TOKEN),
        make_challenge("c", token=TOKEN),
    ],
    ids=["v2", "v1", "challenge"],
)
def test_configured_token_and_the_same_token_passes(payload: dict[str, Any]) -> None:
    assert _token_only().handle(_plain(payload)).status == 200


@pytest.mark.parametrize(
    "payload",
    [
        make_event(MESSAGE_TYPE, {}, token="different"),
        make_v1_event("message", {}, token="different"),
        make_challenge("c", token="different"),
        make_event(MESSAGE_TYPE, {}, token=TOKEN.upper()),
        make_event(MESSAGE_TYPE, {}, token=TOKEN + " "),
        make_event(MESSAGE_TYPE, {}, token=""),
    ],
    ids=["v2", "v1", "challenge", "case", "trailing-space", "empty"],
)
def test_configured_token_and_a_different_one_is_401(payload: dict[str, Any]) -> None:
    response = _token_only().handle(_plain(payload))
    assert (response.status, body_of(response)) == (401, {"msg": "verification token mismatch"})


@pytest.mark.parametrize(
    "payload",
    [
        make_event(MESSAGE_TYPE, {}),
        make_v1_event("message", {}),
        make_challenge("c"),
        {"schema": "2.0", "header": {"event_type": MESSAGE_TYPE, "token": 123}},
    ],
    ids=["v2", "v1", "challenge", "non-string"],
)
def test_configured_token_and_none_in_the_body_is_401(payload: dict[str, Any]) -> None:
    response = _token_only().handle(_plain(payload))
    assert (response.status, body_of(response)) == (401, {"msg": "verification token missing"})


def test_token_is_checked_inside_encrypted_signed_bodies_too() -> None:
    d = dispatcher()
    d.on(MESSAGE_TYPE, lambda e: None)
    assert d.handle(signed(make_event(MESSAGE_TYPE, {}, token="x"))).status == 401
    assert d.handle(signed(make_event(MESSAGE_TYPE, {}, token=TOKEN))).status == 200


@pytest.mark.parametrize("token", [None, "anything"], ids=["absent", "present"])
def test_no_token_configured_means_none_is_required(token: str | None) -> None:
    d = dispatcher(verification_token=None)
    seen: list[Any] = []
    d.on(MESSAGE_TYPE, seen.append)
    assert d.handle(signed(make_event(MESSAGE_TYPE, {}, token=token))).status == 200
    assert len(seen) == 1


def test_no_token_configured_challenge_is_answered() -> None:
    d = dispatcher(verification_token=None)
    assert body_of(d.handle(signed(make_challenge("c1"), sign=False))) == {"challenge": "c1"}


def test_insecure_dispatcher_accepts_any_token() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        d = Dispatcher()
    d.on(MESSAGE_TYPE, lambda e: None)
    assert d.handle(_plain(make_event(MESSAGE_TYPE, {}, token="whatever"))).status == 200


def test_key_only_dispatcher_still_needs_a_signature() -> None:
    d = dispatcher(verification_token=None)
    d.on(MESSAGE_TYPE, lambda e: None)
    response = d.handle(signed(make_event(MESSAGE_TYPE, {}), sign=False, encrypt_key=KEY))
    assert response.status == 401
