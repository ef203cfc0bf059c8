"""Secrets never show their value: not in repr, str, logs or any object that holds them."""

from __future__ import annotations

import hmac

import pytest

from lark_events_core import ConfigurationError, Dispatcher, Secret, Settings
from lark_events_core._secrets import matches_any
from lark_events_core.pipeline import parse_request
from tests.core.helpers import signed, text_message

KEY_MARKER = "KEYMARKER-7f3a"
TOKEN_MARKER = "TOKENMARKER-91bc"


def test_secret_repr_and_str_are_masked() -> None:
    secret = Secret(KEY_MARKER)
    assert KEY_MARKER not in repr(secret)
    assert KEY_MARKER not in str(secret)
    assert KEY_MARKER not in f"{secret}"
    assert KEY_MARKER not in repr([secret, {"k": secret}])


def test_secret_reveals_on_request_and_compares() -> None:
    secret = Secret(KEY_MARKER)
    assert secret.reveal() == KEY_MARKER
    assert secret.matches(KEY_MARKER)
    assert not secret.matches(KEY_MARKER + "x")
    assert secret == Secret(KEY_MARKER)
    assert secret != Secret("other")
    assert secret != KEY_MARKER  # a Secret is not equal to its plain value
    assert hash(secret) == hash(Secret(KEY_MARKER))
    assert bool(secret)
    assert not Secret("")


def test_matches_any_compares_every_secret_in_constant_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    secrets = (Secret("first"), Secret("second"), Secret("third"))
    assert matches_any(secrets, "first")
    assert matches_any(secrets, "third")
    assert not matches_any(secrets, "fourth")
    assert not matches_any((), "first")
    assert not matches_any(secrets, "first\udcff")  # a lone surrogate: a mismatch, no crash
    assert matches_any((Secret("t\udcff"),), "t\udcff")
    compared: list[bytes] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        compared.append(a)
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    assert matches_any(secrets, "first")
    assert compared == [b"first", b"second", b"third"]  # no early exit on the first match


def test_secret_refuses_non_strings() -> None:
    with pytest.raises(TypeError):
        Secret(b"bytes")  # type: ignore[arg-type]


def test_settings_and_dispatcher_repr_hide_keys_and_tokens() -> None:
    settings = Settings.build([KEY_MARKER, "k2"], TOKEN_MARKER)
    dispatcher = Dispatcher(encrypt_key=KEY_MARKER, verification_token=TOKEN_MARKER)
    for obj in (settings, dispatcher):
        assert KEY_MARKER not in repr(obj)
        assert TOKEN_MARKER not in repr(obj)


def test_parsed_request_and_envelope_repr_hide_the_token_and_body() -> None:
    settings = Settings.build(KEY_MARKER, TOKEN_MARKER)
    parsed = parse_request(
        signed(text_message("BODYMARKER", token=TOKEN_MARKER), encrypt_key=KEY_MARKER), settings
    )
    for obj in (parsed, parsed.envelope, parsed.envelope.header):
        text = repr(obj)
        assert TOKEN_MARKER not in text
        assert KEY_MARKER not in text
        assert "BODYMARKER" not in text


def test_configuration_errors_do_not_quote_the_value() -> None:
    with pytest.raises(ConfigurationError) as info:
        Settings.build([KEY_MARKER, 12345])  # type: ignore[list-item]
    assert KEY_MARKER not in str(info.value)
    assert "12345" not in str(info.value)
