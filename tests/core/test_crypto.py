"""AES-256-CBC per PROTOCOL.md §3: round trips, strict padding, bad input → DecryptionError."""

from __future__ import annotations

import base64
import hashlib
import os

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from lark_events_core import AESCipher, DecryptionError, Secret, decrypt, encrypt


def _raw_cbc(key: str, iv: bytes, padded: bytes) -> str:
    """Encrypt already-padded bytes, so a test can choose the padding (good or bad)."""
    aes = algorithms.AES(hashlib.sha256(key.encode()).digest())
    enc = Cipher(aes, modes.CBC(iv)).encryptor()
    return base64.b64encode(iv + enc.update(padded) + enc.finalize()).decode()


def test_round_trip_of_text_and_bytes() -> None:
    assert decrypt(encrypt("你好 {json}", "key"), "key") == "你好 {json}".encode()
    assert decrypt(encrypt(b"\x00\xff" * 40, "key"), "key") == b"\x00\xff" * 40


def test_round_trip_with_a_secret_key_and_bytes_input() -> None:
    key = Secret("s3cret")
    assert decrypt(encrypt(b"abc", key).encode("ascii"), key) == b"abc"


def test_fresh_iv_per_message_so_ciphertexts_differ() -> None:
    assert encrypt("same", "key") != encrypt("same", "key")


def test_given_iv_is_the_first_block() -> None:
    iv = bytes(range(16))
    assert base64.b64decode(encrypt("x", "key", iv=iv))[:16] == iv


def test_iv_of_the_wrong_length_is_refused() -> None:
    with pytest.raises(ValueError, match="16 bytes"):
        encrypt("x", "key", iv=b"short")


def test_a_multiple_of_16_gets_a_full_padding_block() -> None:
    raw = base64.b64decode(encrypt(b"a" * 32, "key"))
    assert len(raw) == 16 + 32 + 16


def test_empty_plaintext_round_trips() -> None:
    assert decrypt(encrypt(b"", "key"), "key") == b""


def test_wrong_key_is_a_decryption_error() -> None:
    with pytest.raises(DecryptionError):
        # One in 256 wrong keys could yield valid-looking padding; these two do not.
        decrypt(encrypt(b'{"a":1}', "right", iv=bytes(16)), "wrong")


@pytest.mark.parametrize(
    "last_block",
    [
        b"0123456789abcde\x00",  # zero is never a valid pad length
        b"0123456789abcde\x11",  # 17 is longer than a block
        b"0123456789abc\x02\x03\x03",  # the pad bytes disagree
        b"0123456789ab\x01\x04\x04\x04",
    ],
)
def test_bad_padding_is_a_decryption_error(last_block: bytes) -> None:
    encrypted = _raw_cbc("key", os.urandom(16), b"A" * 16 + last_block)
    with pytest.raises(DecryptionError):
        decrypt(encrypted, "key")


def test_every_value_of_the_last_byte_is_checked_as_a_padding_length() -> None:
    # 1..16 copies of n are a valid padding; 0 and 17..255 are not, whatever the other bytes.
    for n in range(256):
        encrypted = _raw_cbc("key", os.urandom(16), b"A" * 16 + bytes([n]) * 16)
        if 1 <= n <= 16:
            assert decrypt(encrypted, "key") == b"A" * 16 + bytes([n]) * (16 - n)
        else:
            with pytest.raises(DecryptionError):
                decrypt(encrypted, "key")


def test_valid_padding_written_by_hand_is_removed() -> None:
    encrypted = _raw_cbc("key", os.urandom(16), b"0123456789abc\x03\x03\x03")
    assert decrypt(encrypted, "key") == b"0123456789abc"


@pytest.mark.parametrize(
    "value",
    [
        "not base64 at all!",
        "QUJD",  # valid base64 of 3 bytes: shorter than IV + one block
        base64.b64encode(b"x" * 40).decode(),  # not a multiple of the block size
        base64.b64encode(b"x" * 16).decode(),  # an IV and nothing else
        "",
        "Zm9v\n",  # a newline is not part of the standard alphabet
        "中文",  # not ASCII
        "====",
    ],
)
def test_malformed_values_are_decryption_errors(value: str) -> None:
    with pytest.raises(DecryptionError):
        decrypt(value, "key")


def test_decryption_errors_carry_no_input_or_key() -> None:
    with pytest.raises(DecryptionError) as info:
        decrypt("MARKER-not-base64", "KEY-MARKER")
    assert "MARKER" not in str(info.value)
    assert "MARKER" not in info.value.public_message


def test_cipher_repr_hides_the_key() -> None:
    assert "KEY-MARKER" not in repr(AESCipher("KEY-MARKER"))


def test_cipher_is_reusable_across_messages() -> None:
    cipher = AESCipher("key")
    values = [cipher.encrypt(str(i)) for i in range(5)]
    assert [cipher.decrypt(v) for v in values] == [str(i).encode() for i in range(5)]


def test_one_cipher_decrypts_interleaved_messages_of_every_length() -> None:
    # The cipher keeps a decryption context per thread across messages: earlier messages,
    # failed ones included, must never affect the next plaintext.
    cipher = AESCipher("key")
    messages = [os.urandom(n) for n in range(100)] + [b"x" * 4096]
    values = [cipher.encrypt(m) for m in messages]
    bad = _raw_cbc("key", os.urandom(16), b"A" * 15 + b"\x00")
    for message, value in zip(messages, values, strict=True):
        with pytest.raises(DecryptionError):
            cipher.decrypt(bad)
        assert cipher.decrypt(value) == message
        assert decrypt(value, "key") == message


def test_one_cipher_is_safe_to_share_between_threads() -> None:
    import threading

    cipher = AESCipher("key")
    failures: list[int] = []

    def worker(seed: int) -> None:
        for i in range(300):
            message = f"{seed}-{i}-".encode() * (1 + (seed * i) % 13)
            if cipher.decrypt(cipher.encrypt(message)) != message:
                failures.append(seed)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
