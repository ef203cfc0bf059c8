"""AES-256-CBC as the Lark platform uses it (PROTOCOL.md §3).

key = SHA-256 of the UTF-8 Encrypt Key; the first 16 bytes of the base64-decoded value are the IV;
PKCS#7 padding, checked strictly: a wrong key looks exactly like bad padding, and both are
:class:`~lark_events_core.errors.DecryptionError`.
"""

from __future__ import annotations

import binascii
import hashlib
import hmac
import os
import sys
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from ._secrets import Secret
from .errors import DecryptionError

# `cryptography` is imported when the first cipher is built, not with the package (about 7 ms).
if TYPE_CHECKING:
    from cryptography.hazmat.primitives.ciphers import Cipher, CipherContext, modes

__all__ = ["AESCipher", "b64decode_strict", "decrypt", "encrypt"]

_BLOCK = 16
# PKCS#7 padding of n bytes is n copies of the byte n (1 ≤ n ≤ 16): one table lookup per message.
_PADDING = tuple(bytes([n]) * n for n in range(_BLOCK + 1))
# What a last byte says the padding is, for every byte: None where that is not a valid padding.
_PADDING_OF: tuple[bytes | None, ...] = (None, *_PADDING[1:], *(None,) * (255 - _BLOCK))
_MIN_SIZE = 2 * _BLOCK  # the IV and at least one block
_compare_digest = hmac.compare_digest

b64decode_strict: Callable[[str | bytes], bytes]
"""Decode standard base64, refusing any character outside the alphabet and bad padding."""

if sys.version_info >= (3, 11):

    def b64decode_strict(data: str | bytes) -> bytes:
        """Decode standard base64, refusing anything outside the alphabet and bad padding."""
        return binascii.a2b_base64(data, strict_mode=True)

else:  # pragma: no cover - Python 3.10
    import base64

    def b64decode_strict(data: str | bytes) -> bytes:
        """Decode standard base64, refusing anything outside the alphabet and bad padding."""
        return base64.b64decode(data, validate=True)


class AESCipher:
    """Encrypts and decrypts with one Encrypt Key; build once, reuse for every request."""

    __slots__ = ("_algorithm", "_local")

    def __init__(self, encrypt_key: str | Secret) -> None:
        from cryptography.hazmat.primitives.ciphers import algorithms

        raw = encrypt_key.reveal() if isinstance(encrypt_key, Secret) else encrypt_key
        self._algorithm = algorithms.AES(hashlib.sha256(raw.encode("utf-8")).digest())
        self._local = threading.local()

    def _decryptor(self) -> CipherContext:
        """This thread's long-lived CBC decryption context (made on first use).

        Setting up a context costs more than decrypting a whole event, so each thread keeps one
        and never finalises it. In CBC, plaintext block i is D(C[i]) xor C[i-1]: feeding the IV
        as the first "ciphertext" block makes the context chain from it, so every block after
        the first output block is exactly the message's plaintext, whatever the context
        decrypted before. The first output block (the IV decrypted against the previous
        message's last block) is garbage: :meth:`decrypt_raw` slices it off with the padding.
        """
        decryptor: CipherContext = self._cbc(bytes(_BLOCK)).decryptor()
        self._local.decryptor = decryptor
        return decryptor

    def _decrypt_afresh(self, raw: bytes) -> bytes:
        """``raw`` decrypted with a context of its own, the long-lived one dropped: for the case,
        never seen with whole blocks, where that context returned fewer bytes than it took."""
        del self._local.decryptor
        fresh = self._cbc(raw[:_BLOCK]).decryptor()
        return bytes(_BLOCK) + fresh.update(raw[_BLOCK:]) + fresh.finalize()

    def _cbc(self, iv: bytes) -> Cipher[modes.CBC]:
        """AES-256-CBC with this key from ``iv`` (``cryptography`` imported here, on first use)."""
        from cryptography.hazmat.primitives.ciphers import Cipher, modes

        return Cipher(self._algorithm, modes.CBC(iv))

    def __repr__(self) -> str:
        return "AESCipher(<key hidden>)"

    def decrypt(self, encrypted: str | bytes) -> bytes:
        """Decrypt a base64 ``encrypt`` value to the plaintext bytes."""
        try:
            raw = b64decode_strict(encrypted)
        except (binascii.Error, ValueError):
            raise DecryptionError("encrypt is not valid base64") from None
        return self.decrypt_raw(raw)

    def decrypt_raw(self, raw: bytes) -> bytes:
        """Decrypt ``iv ++ ciphertext`` (the ``encrypt`` value already base64-decoded)."""
        size = len(raw)
        if size < _MIN_SIZE or size % _BLOCK:
            raise DecryptionError("encrypt has an invalid length")
        # The context's first output block is discarded (see _decryptor): one call per request.
        try:
            decryptor = self._local.decryptor
        except AttributeError:
            decryptor = self._decryptor()
        padded: bytes = decryptor.update(raw)
        if len(padded) != size:
            padded = self._decrypt_afresh(raw)
        pad = padded[-1]
        expected = _PADDING_OF[pad]
        # The whole padding is compared (in constant time for its length), not just its last byte.
        if expected is None or not _compare_digest(padded[-pad:], expected):
            raise DecryptionError()
        return padded[_BLOCK:-pad]

    def encrypt(self, plaintext: bytes | str, iv: bytes | None = None) -> str:
        """Encrypt ``plaintext`` as the platform does; a fresh random IV unless one is given."""
        data = plaintext.encode("utf-8") if isinstance(plaintext, str) else plaintext
        if iv is None:
            iv = os.urandom(_BLOCK)
        elif len(iv) != _BLOCK:
            raise ValueError("the IV must be 16 bytes")
        padded = data + _PADDING[_BLOCK - len(data) % _BLOCK]
        encryptor = self._cbc(iv).encryptor()
        sealed = iv + encryptor.update(padded) + encryptor.finalize()
        return binascii.b2a_base64(sealed, newline=False).decode("ascii")


def decrypt(encrypted: str | bytes, encrypt_key: str | Secret) -> bytes:
    """Decrypt one ``encrypt`` value with ``encrypt_key`` (Go SDK: ``EventDecrypt``)."""
    return AESCipher(encrypt_key).decrypt(encrypted)


def encrypt(plaintext: bytes | str, encrypt_key: str | Secret, iv: bytes | None = None) -> str:
    """Encrypt ``plaintext`` to a base64 ``encrypt`` value, as the platform does."""
    return AESCipher(encrypt_key).encrypt(plaintext, iv)
