"""One test per security check, each built so that it fails when its check is removed.

Every test sends a request that is *valid except for the one thing its check looks at*, so the
only reason it can be refused is that check. (Each was verified by deleting the check locally,
watching the test fail, and restoring it.)
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import time
from typing import Any

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from lark_events_core import Dispatcher, Request, encrypt
from lark_events_core.testing import make_event, make_legacy_card, sign_event
from tests.core.helpers import KEY, MESSAGE_TYPE, TOKEN, body_of, signed, signed_card


def _dispatcher(**options: Any) -> tuple[Dispatcher, list[Any]]:
    d = Dispatcher(KEY, TOKEN, dedup=False, **options)
    seen: list[Any] = []
    d.on(MESSAGE_TYPE, seen.append)
    d.on_legacy_card(seen.append)
    return d, seen


def _event(token: str = TOKEN) -> dict[str, Any]:
    return make_event(MESSAGE_TYPE, {"message": {"message_type": "text"}}, token=token)


def test_check_event_signature_rejects_a_body_swapped_under_valid_headers() -> None:
    d, seen = _dispatcher()
    original, forged = signed(_event()), signed(_event())
    # Headers signed for one body, a different (well-encrypted, correct-token) body.
    response = d.handle(Request.build("POST", original.headers, forged.body))
    assert response.status == 401
    assert seen == []


def test_check_event_signature_required_when_an_encrypt_key_is_configured() -> None:
    d, seen = _dispatcher()
    response = d.handle(signed(_event(), sign=False))  # encrypted with the right key, unsigned
    assert (response.status, body_of(response)) == (401, {"msg": "signature headers missing"})
    assert seen == []


def test_check_legacy_card_signature_rejects_a_wrong_token_signature() -> None:
    d, seen = _dispatcher()
    response = d.handle(signed_card(make_legacy_card(), token="attacker-guess"), card=True)
    assert response.status == 401
    assert seen == []


def test_check_legacy_card_signature_required_when_a_token_is_configured() -> None:
    d, seen = _dispatcher()
    body = json.dumps(make_legacy_card()).encode()
    assert d.handle(Request.build("POST", {}, body), card=True).status == 401
    assert seen == []


def test_check_verification_token_rejects_a_wrong_token() -> None:
    d, seen = _dispatcher()
    response = d.handle(signed(_event(token="wrong-token")))  # correctly signed and encrypted
    assert (response.status, body_of(response)) == (401, {"msg": "verification token mismatch"})
    assert seen == []


def test_check_verification_token_rejects_a_missing_token() -> None:
    d, seen = _dispatcher()
    payload = _event()
    del payload["header"]["token"]
    assert d.handle(signed(payload)).status == 401
    assert seen == []


def test_check_timestamp_window_rejects_a_replayed_request() -> None:
    d, seen = _dispatcher(timestamp_tolerance=300)
    old = str(int(time.time()) - 3600)  # correctly signed, an hour old
    response = d.handle(signed(_event(), timestamp=old))
    assert response.status == 401
    assert seen == []


def test_check_padding_rejects_bad_padding_even_when_the_json_would_parse() -> None:
    # Plaintext: a valid event followed by spaces, the last byte 0x20 (not a valid pad length).
    # A decryptor that skipped the padding check would hand valid JSON (trailing whitespace is
    # allowed) to the pipeline and the event would be handled.
    plain = json.dumps(_event()).encode()
    plain += b" " * (16 - len(plain) % 16 or 16)
    iv = os.urandom(16)
    aes = algorithms.AES(hashlib.sha256(KEY.encode()).digest())
    enc = Cipher(aes, modes.CBC(iv)).encryptor()
    value = base64.b64encode(iv + enc.update(plain) + enc.finalize()).decode()
    body = json.dumps({"encrypt": value}).encode()
    req = sign_event(body, encrypt_key=KEY, encrypt=False)  # correctly signed
    d, seen = _dispatcher()
    response = d.handle(Request.build("POST", req.headers, req.body))
    assert response.status == 400
    assert seen == []


def test_check_padding_rejects_a_pad_length_whose_bytes_do_not_all_match() -> None:
    # Plaintext: a valid event, spaces, then the byte 5: a valid pad *length* whose other four
    # bytes are spaces, not 5s. A check of the last byte alone would strip five bytes and hand
    # valid JSON (the event and a space) to the pipeline.
    plain = json.dumps(_event()).encode()
    plain += b" " * (16 - (len(plain) + 1) % 16) + b"\x05"
    assert len(plain) % 16 == 0
    iv = os.urandom(16)
    aes = algorithms.AES(hashlib.sha256(KEY.encode()).digest())
    enc = Cipher(aes, modes.CBC(iv)).encryptor()
    value = base64.b64encode(iv + enc.update(plain) + enc.finalize()).decode()
    body = json.dumps({"encrypt": value}).encode()
    req = sign_event(body, encrypt_key=KEY, encrypt=False)  # correctly signed
    d, seen = _dispatcher()
    response = d.handle(Request.build("POST", req.headers, req.body))
    assert response.status == 400
    assert seen == []


def test_check_padding_answers_are_uniform_so_there_is_no_padding_oracle() -> None:
    d, _ = _dispatcher()
    raw = base64.b64decode(encrypt(b"0123456789", KEY, iv=bytes(16)))
    bad_padding = base64.b64encode(raw[:15] + bytes([raw[15] ^ 0x0B]) + raw[16:]).decode()
    good_padding_not_json = encrypt(b"\x00\x01garbage", KEY)
    answers = {
        (r.status, r.body)
        for r in (
            d.handle(Request.build("POST", {}, json.dumps({"encrypt": v}).encode()))
            for v in (bad_padding, good_padding_not_json)
        )
    }
    assert answers == {(400, b'{"msg":"cannot decrypt the body"}')}


def test_check_size_limit_rejects_an_oversized_valid_request() -> None:
    d, seen = _dispatcher(max_body_bytes=256)
    req = signed(_event())
    assert len(req.body) > 256
    response = d.handle(req)
    assert response.status == 413
    assert seen == []


def test_check_method_rejects_a_valid_request_sent_with_get() -> None:
    d, seen = _dispatcher()
    response = d.handle(signed(_event(), method="GET"))
    assert response.status == 405
    assert seen == []


def test_check_scheme_rejects_an_event_signed_like_a_legacy_card() -> None:
    # On the card endpoint a SHA-1 token signature authenticates legacy cards only, never an
    # event (with an Encrypt Key configured the missing event signature catches it as well).
    d = Dispatcher(verification_token=TOKEN, dedup=False)
    seen: list[Any] = []
    d.on(MESSAGE_TYPE, seen.append)
    payload = json.dumps(_event()).encode()
    response = d.handle(signed_card(payload), card=True)
    assert (response.status, body_of(response)) == (
        401,
        {"msg": "event signed with the wrong scheme"},
    )
    assert seen == []
