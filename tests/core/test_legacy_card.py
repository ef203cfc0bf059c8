"""The legacy message-card endpoint: SHA-1 signature with the token (§5), challenge, answers."""

from __future__ import annotations

import json
from typing import Any

import pytest

from lark_events_core import Request, Toast
from lark_events_core.events import LegacyCardAction
from lark_events_core.testing import make_challenge, make_legacy_card
from tests.core.helpers import KEY, TOKEN, body_of, dispatcher, signed, signed_card


def _card_dispatcher(result: Any = None, **options: Any) -> tuple[Any, list[Any]]:
    d = dispatcher(**options)
    seen: list[Any] = []

    def handler(event: Any) -> Any:
        seen.append(event)
        return result

    d.on_legacy_card(handler)
    return d, seen


def test_signed_legacy_card_reaches_its_handler_with_a_typed_body() -> None:
    d, seen = _card_dispatcher(Toast("done", type="success"))
    card = make_legacy_card({"value": {"k": "v"}, "tag": "button"}, card_token="c-123")
    response = d.handle(signed_card(card), card=True)
    assert (response.status, body_of(response)) == (
        200,
        {"toast": {"type": "success", "content": "done"}},
    )
    event = seen[0]
    assert event.type == "legacy_card"
    assert isinstance(event.event, LegacyCardAction)
    assert event.event.open_id == "ou_test_user"
    assert event.event.open_message_id == "om_test_message"
    assert event.event.token == "c-123"
    assert event.event.action.value == {"k": "v"}
    assert event.event.action.tag == "button"
    assert event.tenant_key == "tenant_test"
    assert event.data["open_chat_id"] == "oc_test_chat"


def test_legacy_card_returning_nothing_answers_empty_object() -> None:
    d, _ = _card_dispatcher(None)
    response = d.handle(signed_card(make_legacy_card()), card=True)
    assert (response.status, body_of(response)) == (200, {})


def test_legacy_card_with_a_bad_signature_is_401() -> None:
    d, seen = _card_dispatcher()
    req = signed_card(make_legacy_card(), token="wrong-token")
    assert d.handle(req, card=True).status == 401
    assert seen == []


def test_legacy_card_without_signature_headers_is_401_when_a_token_is_configured() -> None:
    d, seen = _card_dispatcher()
    body = json.dumps(make_legacy_card()).encode()
    response = d.handle(Request.build("POST", {}, body), card=True)
    assert (response.status, body_of(response)) == (401, {"msg": "signature headers missing"})
    assert seen == []


def test_legacy_card_signed_with_the_event_scheme_is_401() -> None:
    d, seen = _card_dispatcher()
    req = signed(make_legacy_card(), encrypt=False)  # SHA-256 with the Encrypt Key
    assert d.handle(req, card=True).status == 401
    assert seen == []


def test_legacy_card_token_field_is_not_checked_as_the_verification_token() -> None:
    d, seen = _card_dispatcher()
    card = make_legacy_card(card_token="not-the-verification-token")
    assert d.handle(signed_card(card), card=True).status == 200
    assert len(seen) == 1


def test_legacy_card_without_a_token_configured_is_not_signature_checked() -> None:
    d, seen = _card_dispatcher(verification_token=None)
    body = json.dumps(make_legacy_card()).encode()
    assert d.handle(Request.build("POST", {}, body), card=True).status == 200
    assert len(seen) == 1


def test_a_legacy_card_on_the_event_endpoint_is_never_dispatched() -> None:
    d, seen = _card_dispatcher()
    # With a key configured the SHA-1 card signature is not an event signature: 401 first.
    assert d.handle(signed_card(make_legacy_card())).status == 401
    # Unsigned and with only a token configured, the flat body is simply not an event: 400.
    d, seen = _card_dispatcher(encrypt_key=None)
    body = json.dumps(make_legacy_card()).encode()
    assert d.handle(Request.build("POST", {}, body)).status == 400
    assert seen == []


@pytest.mark.parametrize("encrypted", [False, True], ids=["plain", "encrypted"])
def test_challenge_on_the_card_endpoint(encrypted: bool) -> None:
    d, _ = _card_dispatcher()
    challenge = make_challenge('card"challenge', token=TOKEN)
    if encrypted:
        req = signed(challenge, sign=False)
    else:
        req = Request.build("POST", {}, json.dumps(challenge).encode())
    response = d.handle(req, card=True)
    assert (response.status, body_of(response)) == (200, {"challenge": 'card"challenge'})


def test_challenge_on_the_card_endpoint_checks_the_token() -> None:
    d, _ = _card_dispatcher()
    body = json.dumps(make_challenge("c", token="wrong")).encode()
    assert d.handle(Request.build("POST", {}, body), card=True).status == 401


def test_new_style_callback_on_the_card_endpoint_uses_the_event_signature() -> None:
    from lark_events_core.testing import make_event

    d = dispatcher()
    d.on("card.action.trigger", lambda e: {"ok": True})
    req = signed(make_event("card.action.trigger", {}, token=TOKEN), encrypt_key=KEY)
    assert body_of(d.handle(req, card=True)) == {"ok": True}


def test_legacy_card_with_only_an_encrypt_key_configured_is_accepted() -> None:
    # §5: the card signature uses the verification token; without one it cannot be checked,
    # so a key-only app must still receive its card callbacks.
    d, seen = _card_dispatcher(verification_token=None)
    req = signed_card(make_legacy_card(), token="the-apps-token-we-do-not-know")
    assert d.handle(req, card=True).status == 200
    assert len(seen) == 1


def test_events_on_the_card_endpoint_still_need_the_event_signature_without_a_token() -> None:
    from lark_events_core.testing import make_event

    d = dispatcher(verification_token=None)
    seen: list[Any] = []
    d.on("card.action.trigger", seen.append)
    payload = make_event("card.action.trigger", {})
    forged = signed_card(payload, token="anything")  # a SHA-1 "signature" anyone can make
    response = d.handle(forged, card=True)
    assert (response.status, body_of(response)) == (401, {"msg": "signature mismatch"})
    assert d.handle(signed(payload, encrypt_key=KEY), card=True).status == 200
    assert len(seen) == 1
