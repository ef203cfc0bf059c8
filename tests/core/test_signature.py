"""Signatures (PROTOCOL.md §4, §5): the formulas, the raw bytes, the constant-time comparison."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest

import lark_events_core.signature as signature_module
from lark_events_core import Request, card_signature, event_signature
from lark_events_core.signature import matching_secret
from tests.core.helpers import KEY, TOKEN, body_of, dispatcher, text_message


def test_event_signature_is_sha256_of_timestamp_nonce_key_then_body() -> None:
    body = b'{"encrypt":"abc"}'
    expected = hashlib.sha256(b"1700000000" + b"nonce" + b"key" + body).hexdigest()
    assert event_signature("1700000000", "nonce", "key", body) == expected


def test_card_signature_is_sha1_of_timestamp_nonce_token_then_body() -> None:
    body = b'{"action":{}}'
    expected = hashlib.sha1(b"1700000000" + b"nonce" + b"tok" + body).hexdigest()
    assert card_signature("1700000000", "nonce", "tok", body) == expected


def test_signature_uses_utf8_of_the_prefix() -> None:
    expected = hashlib.sha256("1n密钥".encode() + b"{}").hexdigest()
    assert event_signature("1", "n", "密钥", b"{}") == expected


def _headers_for(body: bytes, key: str = KEY) -> dict[str, str]:
    return {
        "X-Lark-Request-Timestamp": "1700000000",
        "X-Lark-Request-Nonce": "n0nce",
        "X-Lark-Signature": event_signature("1700000000", "n0nce", key, body),
    }


def test_signature_is_checked_over_the_raw_bytes_received() -> None:
    # Odd but valid JSON: spaces, a unicode escape, key order. Re-serialising would change it.
    body = b'{ "schema" : "2.0", "header": {"event_type":"x.y", "token": "%s", "note":"\\u00e9"}}'
    body = body.replace(b"%s", TOKEN.encode())
    d = dispatcher(dedup=False)
    seen: list[Any] = []
    d.on("x.y", seen.append)
    assert d.handle(Request.build("POST", _headers_for(body), body)).status == 200
    assert len(seen) == 1


def test_a_signature_over_re_serialised_json_is_rejected() -> None:
    body = b'{ "schema" : "2.0", "header": {"event_type":"x.y", "token": "%s"}}'
    body = body.replace(b"%s", TOKEN.encode())
    reserialised = json.dumps(json.loads(body), separators=(",", ":")).encode()
    assert reserialised != body
    response = dispatcher().handle(Request.build("POST", _headers_for(reserialised), body))
    assert response.status == 401
    assert body_of(response) == {"msg": "signature mismatch"}


def test_matching_secret_finds_the_key_that_signed() -> None:
    from lark_events_core import Secret

    old, new = Secret("old"), Secret("new")
    sig = event_signature("1", "n", "new", b"{}")
    assert matching_secret(sig, "1", "n", b"{}", (old, new)) is new
    assert matching_secret(sig, "1", "n", b"{}", (old,)) is None
    card = card_signature("1", "n", "old", b"{}")
    assert matching_secret(card, "1", "n", b"{}", (old, new), legacy_card=True) is old


def test_signatures_are_compared_in_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[bytes, bytes]] = []
    real = signature_module.hmac.compare_digest

    class SpyHmac:
        @staticmethod
        def compare_digest(a: Any, b: Any) -> bool:
            calls.append((a, b))
            return real(a, b)

    monkeypatch.setattr(signature_module, "hmac", SpyHmac)
    d = dispatcher(dedup=False)
    d.on("im.message.receive_v1", lambda e: None)
    from tests.core.helpers import signed

    assert d.handle(signed(text_message())).status == 200
    assert calls, "the signature was not compared with hmac.compare_digest"


def test_tokens_are_compared_in_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    import lark_events_core._secrets as secrets_module

    calls: list[Any] = []
    real = secrets_module.hmac.compare_digest

    class SpyHmac:
        @staticmethod
        def compare_digest(a: Any, b: Any) -> bool:
            calls.append((a, b))
            return real(a, b)

    monkeypatch.setattr(secrets_module, "hmac", SpyHmac)
    d = dispatcher(encrypt_key=None)
    body = json.dumps(text_message(token="wrong")).encode()
    assert d.handle(Request.build("POST", {}, body)).status == 401
    assert calls, "the token was not compared with hmac.compare_digest"


@pytest.mark.parametrize("bad", ["", "zz", "0" * 64, "é" * 64, " " * 3])
def test_malformed_signature_values_are_mismatches_not_crashes(bad: str) -> None:
    from tests.core.helpers import signed

    req = signed(text_message())
    headers = {**dict(req.headers.items()), "x-lark-signature": bad}
    response = dispatcher().handle(Request.build("POST", headers, req.body))
    assert response.status == 401
