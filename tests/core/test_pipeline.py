"""The pipeline's steps as plain functions, and the ParseReq / DecryptEvent primitives."""

from __future__ import annotations

import json

import pytest

from lark_events_core import (
    AuthenticationError,
    BadRequest,
    DecryptionError,
    Kind,
    MethodNotAllowed,
    PayloadTooLarge,
    Request,
    Settings,
    classify,
    decrypt_event,
    encrypt,
    parse_req,
)
from lark_events_core.pipeline import EncryptKeyMissing, check_size_and_method, check_token
from lark_events_core.testing import make_challenge, make_event
from tests.core.helpers import KEY, MESSAGE_TYPE, TOKEN, signed, text_message


def test_parse_req_authenticates_decrypts_and_classifies() -> None:
    payload = text_message("parsed", event_id="ev-p")
    req = signed(payload)
    parsed = parse_req(
        Request.build("POST", [*req.headers.items(), ("X-Tt-Logid", "lg")], req.body),
        encrypt_key=KEY,
        verification_token=TOKEN,
    )
    assert parsed.envelope.kind is Kind.EVENT_V2
    assert parsed.envelope.type == MESSAGE_TYPE
    assert parsed.envelope.header.event_id == "ev-p"
    assert json.loads(parsed.plaintext) == payload
    assert parsed.request_id == "lg"


def test_parse_req_raises_the_errors_with_their_status() -> None:
    with pytest.raises(AuthenticationError) as auth:
        parse_req(signed(text_message()), encrypt_key="other", verification_token=TOKEN)
    assert auth.value.status == 401
    with pytest.raises(BadRequest) as bad:
        parse_req(Request.build("POST", {}, b"nope"), encrypt_key=KEY)
    assert bad.value.status == 400


def test_decrypt_event_from_bytes_str_and_mapping() -> None:
    payload = make_event(MESSAGE_TYPE, {"k": "v"})
    outer = {"encrypt": encrypt(json.dumps(payload), KEY)}
    assert decrypt_event(json.dumps(outer).encode(), KEY) == payload
    assert decrypt_event(json.dumps(outer), KEY) == payload
    assert decrypt_event(outer, [KEY, "other"]) == payload


def test_decrypt_event_passes_plain_bodies_through() -> None:
    payload = make_challenge("c")
    assert decrypt_event(json.dumps(payload).encode(), KEY) == payload


def test_decrypt_event_errors() -> None:
    outer = {"encrypt": encrypt(b'{"a":1}', KEY)}
    with pytest.raises(DecryptionError):
        decrypt_event(outer, "wrong")
    with pytest.raises(EncryptKeyMissing):
        decrypt_event(outer, None)
    with pytest.raises(BadRequest):
        decrypt_event(b"[]", KEY)


def test_check_size_and_method() -> None:
    settings = Settings.build(KEY, max_body_bytes=4)
    check_size_and_method(Request.build("POST", {}, b"1234"), settings)
    with pytest.raises(PayloadTooLarge):
        check_size_and_method(Request.build("POST", {}, b"12345"), settings)
    with pytest.raises(MethodNotAllowed):
        check_size_and_method(Request.build("PATCH", {}, b""), settings)


def test_check_token_alone() -> None:
    settings = Settings.build(None, [TOKEN, "t2"])
    check_token(classify(make_event("a.b", token="t2")), settings)
    with pytest.raises(AuthenticationError):
        check_token(classify(make_event("a.b", token="t3")), settings)
    check_token(classify(make_event("a.b", token="t3")), Settings.build(KEY))


@pytest.mark.parametrize(
    ("payload", "kind", "event_type"),
    [
        (make_challenge("c"), Kind.URL_VERIFICATION, "url_verification"),
        (make_event(MESSAGE_TYPE), Kind.EVENT_V2, MESSAGE_TYPE),
        (make_event("card.action.trigger"), Kind.CALLBACK, "card.action.trigger"),
        (make_event("url.preview.get"), Kind.CALLBACK, "url.preview.get"),
        ({"uuid": "u", "event": {"type": "message"}}, Kind.EVENT_V1, "message"),
        ({"type": "event_callback", "event": {"type": "app_ticket"}}, Kind.EVENT_V1, "app_ticket"),
    ],
)
def test_classify(payload: dict[str, object], kind: Kind, event_type: str) -> None:
    envelope = classify(payload)
    assert (envelope.kind, envelope.type) == (kind, event_type)


def test_classify_legacy_card_only_on_the_card_endpoint() -> None:
    body = {"open_id": "ou", "action": {"value": {}}, "token": "c"}
    assert classify(body, card_endpoint=True).kind is Kind.LEGACY_CARD
    assert classify(body, card_endpoint=True).token is None  # the card token is not checked
    with pytest.raises(BadRequest):
        classify(body)
