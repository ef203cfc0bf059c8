"""``encrypt``, ``decrypt`` and ``sign``: the primitives for debugging a captured request."""

from __future__ import annotations

import json
from pathlib import Path

from lark_events_core.crypto import decrypt, encrypt
from lark_events_core.signature import card_signature, event_signature
from tests.support.vectors import vectors

from .conftest import assert_no_traceback, clean_env, cli

BODY = '{"schema":"2.0","header":{"event_type":"im.message.receive_v1"},"event":{}}'


def test_encrypt_then_decrypt_round_trips_and_matches_the_core() -> None:
    encrypted = cli("encrypt", BODY, "--encrypt-key", "k-123")
    assert encrypted.code == 0, encrypted.text
    value = encrypted.out.strip()
    assert decrypt(value, "k-123") == BODY.encode()
    decrypted = cli("decrypt", value, "--encrypt-key", "k-123")
    assert decrypted.out.strip() == BODY
    assert "k-123" not in encrypted.out + decrypted.out


def test_decrypt_accepts_a_whole_captured_body_from_stdin_and_pretty_prints() -> None:
    captured = json.dumps({"encrypt": encrypt(BODY, "key")})
    env = clean_env(LARK_ENCRYPT_KEY="key")
    result = cli("decrypt", "--pretty", env=env, stdin=captured)
    assert result.code == 0, result.text
    assert json.loads(result.out) == json.loads(BODY)
    assert '\n  "schema": "2.0"' in result.out


def test_decrypt_the_protocol_vectors() -> None:
    for vector in vectors()["decrypt"]:
        result = cli("decrypt", vector["encrypt"], "--encrypt-key", vector["encrypt_key"])
        assert result.code == 0, result.text
        assert result.out.removesuffix("\n") == vector["plaintext"], vector["name"]


def test_decrypt_with_a_wrong_key_is_one_line_with_a_hint() -> None:
    result = cli("decrypt", encrypt(BODY, "right"), "--encrypt-key", "zz-other-key")
    assert result.code == 1
    assert_no_traceback(result)
    assert result.err.startswith("error: cannot decrypt")
    assert "check the Encrypt Key" in result.err
    assert "zz-other-key" not in result.text


def test_decrypt_of_a_plain_body_says_it_is_not_encrypted() -> None:
    result = cli("decrypt", BODY, "--encrypt-key", "k")
    assert result.code == 1
    assert "it is not encrypted" in result.err


def test_missing_key_is_an_error() -> None:
    result = cli("encrypt", BODY)
    assert result.code == 1
    assert "no Encrypt Key given" in result.err


def test_wrap_prints_a_platform_body() -> None:
    result = cli("encrypt", BODY, "--encrypt-key", "k", "--wrap")
    assert decrypt(json.loads(result.out)["encrypt"], "k") == BODY.encode()


def test_sign_matches_the_event_signature_over_exact_file_bytes(tmp_path: Path) -> None:
    raw = b'{"encrypt": "abc"}\n'  # the trailing newline is part of the body
    path = tmp_path / "body.bin"
    path.write_bytes(raw)
    result = cli("sign", "--file", str(path), "--timestamp", "1700000000", "--nonce", "n1",
                 "--encrypt-key", "k")  # fmt: skip
    assert result.code == 0, result.text
    assert result.out.strip() == event_signature("1700000000", "n1", "k", raw)


def test_sign_the_protocol_vectors() -> None:
    for name, flag, secret_flag in (
        ("event_signature", [], "--encrypt-key"),
        ("card_signature", ["--card"], "--token"),
    ):
        for v in vectors()[name]:
            secret = v.get("encrypt_key") or v.get("verification_token")
            result = cli("sign", "-", "--timestamp", v["timestamp"], "--nonce", v["nonce"],
                         secret_flag, secret, *flag, stdin=v["body"])  # fmt: skip
            assert result.out.strip() == v["signature"], (name, v["name"], result.text)


def test_sign_check_reports_match_and_mismatch() -> None:
    sig = card_signature("1", "n", "tok", BODY.encode())
    ok = cli("sign", BODY, "--timestamp", "1", "--nonce", "n", "--token", "tok", "--card",
             "--check", sig.upper())  # fmt: skip
    assert ok.code == 0
    assert "ok: the signature matches" in ok.out
    bad = cli("sign", BODY + " ", "--timestamp", "1", "--nonce", "n", "--token", "tok", "--card",
              "--check", sig)  # fmt: skip
    assert bad.code == 1
    assert "signature mismatch" in bad.err
    assert "exact bytes" in bad.err
    assert_no_traceback(bad)
