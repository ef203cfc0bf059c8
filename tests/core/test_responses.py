"""Every row of PROTOCOL.md §7's response table, through ``Dispatcher.handle``."""

from __future__ import annotations

import base64
import json
import logging
import warnings
from typing import Any

import pytest

from lark_events_core import Dispatcher, Request, encrypt
from lark_events_core.testing import make_challenge, make_event, sign_event
from tests.core.helpers import KEY, MESSAGE_TYPE, TOKEN, body_of, dispatcher, signed, text_message


def test_event_handled_answers_200_success() -> None:
    d = dispatcher()
    seen: list[Any] = []
    d.on(MESSAGE_TYPE, seen.append)
    response = d.handle(signed(text_message("hi")))
    assert (response.status, body_of(response)) == (200, {"msg": "success"})
    assert [e.event.message.text for e in seen] == ["hi"]


def test_event_handler_return_value_is_not_the_answer() -> None:
    d = dispatcher()
    d.on(MESSAGE_TYPE, lambda e: {"something": "else"})
    assert body_of(d.handle(signed(text_message()))) == {"msg": "success"}


def test_callback_answers_the_handlers_result() -> None:
    d = dispatcher()
    d.on("card.action.trigger", lambda e: {"toast": {"type": "info", "content": "ok"}})
    response = d.handle(signed(make_event("card.action.trigger", {}, token=TOKEN)))
    assert (response.status, body_of(response)) == (
        200,
        {"toast": {"type": "info", "content": "ok"}},
    )


def test_callback_returning_nothing_answers_empty_object() -> None:
    d = dispatcher()
    d.on("card.action.trigger", lambda e: None)
    response = d.handle(signed(make_event("card.action.trigger", {}, token=TOKEN)))
    assert (response.status, body_of(response)) == (200, {})


def test_callback_returning_an_unserialisable_value_is_a_500() -> None:
    d = dispatcher()
    d.on("card.action.trigger", lambda e: object())
    response = d.handle(signed(make_event("card.action.trigger", {}, token=TOKEN)))
    assert (response.status, body_of(response)) == (500, {"msg": "internal error"})


@pytest.mark.parametrize(
    "challenge", ["plain-123", 'a"b\\c', "</script>\n\t", "中文🌏", '{"x":1}', ""]
)
def test_url_verification_plain_is_json_escaped(challenge: str) -> None:
    body = json.dumps({"challenge": challenge, "token": TOKEN, "type": "url_verification"})
    response = dispatcher().handle(Request.build("POST", {}, body.encode()))
    assert (response.status, body_of(response)) == (200, {"challenge": challenge})


def test_url_verification_encrypted_and_unsigned_answers_plaintext() -> None:
    req = signed(make_challenge('q"uote', token=TOKEN), sign=False)
    assert "X-Lark-Signature" not in req.headers
    response = dispatcher().handle(req)
    assert (response.status, body_of(response)) == (200, {"challenge": 'q"uote'})


def test_url_verification_with_a_wrong_token_is_401() -> None:
    body = json.dumps(make_challenge("c", token="wrong")).encode()
    response = dispatcher().handle(Request.build("POST", {}, body))
    assert response.status == 401


def test_url_verification_without_a_challenge_string_is_400() -> None:
    body = json.dumps({"type": "url_verification", "challenge": 5, "token": TOKEN}).encode()
    assert dispatcher().handle(Request.build("POST", {}, body)).status == 400


def test_unknown_type_answers_200_and_is_logged_once_per_type(
    caplog: pytest.LogCaptureFixture,
) -> None:
    d = dispatcher()
    with caplog.at_level(logging.WARNING, logger="lark_events"):
        for _ in range(3):
            assert body_of(d.handle(signed(make_event("x.unknown", {}, token=TOKEN)))) == {
                "msg": "success"
            }
        d.handle(signed(make_event("y.unknown", {}, token=TOKEN)))
    unhandled = [r.getMessage() for r in caplog.records if "no handler" in r.getMessage()]
    assert len(unhandled) == 2
    assert "x.unknown" in unhandled[0]
    assert "y.unknown" in unhandled[1]


def test_unknown_callback_type_answers_200_empty_object() -> None:
    response = dispatcher().handle(signed(make_event("url.preview.get", {}, token=TOKEN)))
    assert (response.status, body_of(response)) == (200, {})


def test_duplicate_event_answers_200_without_calling_the_handler_again() -> None:
    d = dispatcher()
    seen: list[Any] = []
    d.on(MESSAGE_TYPE, seen.append)
    event = text_message(event_id="ev-dup-1")
    first, second = d.handle(signed(event)), d.handle(signed(event))
    assert (first.status, second.status) == (200, 200)
    assert body_of(second) == {"msg": "success"}
    assert len(seen) == 1


def test_handler_error_is_500_internal_error_with_the_exception_only_in_the_log(
    caplog: pytest.LogCaptureFixture,
) -> None:
    d = dispatcher()

    def boom(event: Any) -> None:
        raise RuntimeError("EXCEPTION-TEXT-MARKER")

    d.on(MESSAGE_TYPE, boom)
    with caplog.at_level(logging.ERROR, logger="lark_events"):
        response = d.handle(signed(text_message()))
    assert (response.status, body_of(response)) == (500, {"msg": "internal error"})
    assert b"MARKER" not in response.body
    logged = [r for r in caplog.records if r.exc_info]
    assert logged
    assert "EXCEPTION-TEXT-MARKER" in str(logged[0].exc_info[1])  # type: ignore[index]


def test_a_failed_event_is_handled_again_on_retry() -> None:
    d = dispatcher()
    attempts: list[int] = []

    def flaky(event: Any) -> None:
        attempts.append(1)
        if len(attempts) == 1:
            raise RuntimeError("first try fails")

    d.on(MESSAGE_TYPE, flaky)
    event = text_message(event_id="ev-retry-1")
    assert d.handle(signed(event)).status == 500
    assert d.handle(signed(event)).status == 200
    assert len(attempts) == 2


def test_bad_signature_is_401_naming_the_check() -> None:
    req = signed(text_message())
    headers = {**dict(req.headers.items()), "x-lark-signature": "0" * 64}
    response = dispatcher().handle(Request.build("POST", headers, req.body))
    assert (response.status, body_of(response)) == (401, {"msg": "signature mismatch"})


@pytest.mark.parametrize(
    "dropped", ["X-Lark-Signature", "X-Lark-Request-Timestamp", "X-Lark-Request-Nonce"]
)
def test_missing_signature_header_is_401_not_a_crash(dropped: str) -> None:
    req = signed(text_message())
    headers = {k: v for k, v in req.headers.items() if k != dropped.lower()}
    response = dispatcher().handle(Request.build("POST", headers, req.body))
    assert (response.status, body_of(response)) == (401, {"msg": "signature headers missing"})


def test_wrong_token_is_401_naming_the_check() -> None:
    response = dispatcher().handle(signed(text_message(token="not-the-token")))
    assert (response.status, body_of(response)) == (401, {"msg": "verification token mismatch"})


def test_stale_timestamp_is_401_naming_the_check() -> None:
    d = dispatcher(timestamp_tolerance=300)
    response = d.handle(signed(text_message(), timestamp="1000000000"))
    assert (response.status, body_of(response)) == (
        401,
        {"msg": "timestamp outside the allowed window"},
    )


def _valid_padding_garbage() -> str:
    # Bytes that decrypt with valid padding but are not JSON.
    return encrypt(b"\x00not json\xff", KEY)


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"",
        b"[1, 2]",
        b'"a string"',
        b"null",
        b"{",
        b'{"encrypt": "***not base64***"}',
        b'{"encrypt": "QUJD"}',
        b'{"encrypt": 12}',
        b'{"schema": "2.0"}',
        b'{"schema": "2.0", "header": {"event_type": ""}}',
        b'{"uuid": "u", "event": "not an object"}',
        b'{"anything": "else"}',
        b"\xff\xfe\x00",
    ],
)
def test_malformed_bodies_are_400_with_a_json_message(body: bytes) -> None:
    response = dispatcher(encrypt_key=KEY, verification_token=None).handle(
        Request.build("POST", {}, body)
    )
    assert response.status == 400
    assert set(body_of(response)) == {"msg"}


def test_ciphertext_of_another_key_is_400() -> None:
    outer = json.dumps({"encrypt": encrypt(b'{"a":1}', "other-key", iv=bytes(16))}).encode()
    assert dispatcher().handle(Request.build("POST", {}, outer)).status == 400


def test_body_over_the_size_limit_is_413() -> None:
    d = dispatcher(max_body_bytes=2048)
    big = signed(text_message("x" * 4096))
    response = d.handle(big)
    assert (response.status, body_of(response)) == (413, {"msg": "request body too large"})
    assert d.handle(signed(text_message("small"))).status == 200


def test_body_at_the_size_limit_is_accepted() -> None:
    req = signed(text_message())
    d = dispatcher(max_body_bytes=len(req.body))
    assert d.handle(req).status == 200


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "HEAD", "OPTIONS", "get"])
def test_methods_other_than_post_are_405(method: str) -> None:
    req = signed(text_message(), method=method)
    response = dispatcher().handle(req)
    assert (response.status, body_of(response)) == (405, {"msg": "method not allowed"})


def test_encrypted_body_without_a_configured_key_is_500_and_logged_loudly(
    caplog: pytest.LogCaptureFixture,
) -> None:
    d = Dispatcher(verification_token=TOKEN)
    req = sign_event(text_message(), encrypt_key=KEY, sign=False)
    with caplog.at_level(logging.ERROR, logger="lark_events"):
        response = d.handle(Request.build("POST", req.headers, req.body))
    assert (response.status, body_of(response)) == (500, {"msg": "internal error"})
    assert any(
        r.levelno >= logging.ERROR and "no encrypt_key is configured" in r.getMessage()
        for r in caplog.records
    )


def test_every_rejection_is_logged_without_the_body(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG, logger="lark_events"):
        dispatcher().handle(Request.build("POST", {"X-Request-Id": "rid-1"}, b"BODY-MARKER"))
    assert any("rid-1" in r.getMessage() for r in caplog.records)
    assert not any("BODY-MARKER" in r.getMessage() for r in caplog.records)


def test_without_key_and_token_plain_events_are_accepted() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        d = Dispatcher(dedup=False)
    seen: list[Any] = []
    d.on(MESSAGE_TYPE, seen.append)
    body = json.dumps(text_message(token=None)).encode()
    assert d.handle(Request.build("POST", {}, body)).status == 200
    assert len(seen) == 1


def test_decryption_failures_look_the_same_whatever_went_wrong() -> None:
    # Bad padding and "valid padding but not JSON" must be indistinguishable, or the answers
    # form a padding oracle that decrypts captured ciphertexts without the key.
    d = dispatcher()
    raw = base64.b64decode(encrypt(b"0123456789", KEY, iv=bytes(16)))
    tampered = base64.b64encode(raw[:15] + bytes([raw[15] ^ 0x0B]) + raw[16:]).decode()
    answers = set()
    for value in (_valid_padding_garbage(), encrypt(b"0123456789", "other", iv=bytes(16))):
        answers.add(d.handle(Request.build("POST", {}, json.dumps({"encrypt": value}).encode())))
    answers.add(d.handle(Request.build("POST", {}, json.dumps({"encrypt": tampered}).encode())))
    assert {(a.status, a.body) for a in answers} == {(400, b'{"msg":"cannot decrypt the body"}')}
