"""Validated configuration of a :class:`~lark_events_core.dispatcher.Dispatcher`."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import Any, Literal

import msgspec

from ._secrets import Secret
from .crypto import AESCipher
from .errors import ConfigurationError
from .events._model import hiding_repr

__all__ = ["DEFAULT_MAX_BODY_BYTES", "SecretInput", "Settings", "secrets_from"]

#: Lark events are a few KiB; 1 MiB leaves room for large approval or doc payloads.
DEFAULT_MAX_BODY_BYTES = 1024 * 1024

SecretInput = str | Secret | Iterable[str | Secret] | None
StoreErrorPolicy = Literal["process", "retry"]


def secrets_from(value: SecretInput, what: str) -> tuple[Secret, ...]:
    """Normalise one secret or several (for rotation) into a tuple; empty values are errors."""
    if value is None:
        return ()
    if isinstance(value, (str, Secret)):
        items: list[object] = [value]
    elif isinstance(value, Iterable) and not isinstance(value, (bytes, bytearray, Mapping)):
        items = list(value)
    else:
        raise ConfigurationError(
            f"{what} must be a str, a Secret or a list of them, not {type(value).__name__}"
        )
    out: list[Secret] = []
    for item in items:
        if isinstance(item, Secret):
            secret = item
        elif isinstance(item, str):
            secret = Secret(item)
        else:
            raise ConfigurationError(f"{what} must be a str or Secret, not {type(item).__name__}")
        if not secret.reveal().strip():
            raise ConfigurationError(f"{what} is empty; pass None to disable it")
        try:
            secret.reveal().encode("utf-8")
        except UnicodeEncodeError:
            raise ConfigurationError(f"{what} is not valid Unicode text") from None
        out.append(secret)
    return tuple(out)


# A frozen Struct, not a dataclass: the same equality, hash, repr and immutability, cheaper to
# import (no dataclasses, no generated code).
class Settings(msgspec.Struct, frozen=True):
    """Everything a dispatcher needs to authenticate and bound a request."""

    encrypt_keys: tuple[Secret, ...] = ()
    verification_tokens: tuple[Secret, ...] = ()
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    timestamp_tolerance: float | None = None
    ciphers: tuple[tuple[Secret, AESCipher], ...] = ()

    __repr__ = hiding_repr("ciphers")

    @classmethod
    def build(
        cls,
        encrypt_key: SecretInput = None,
        verification_token: SecretInput = None,
        *,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        timestamp_tolerance: float | None = None,
    ) -> Settings:
        """Validate and build; every problem is a :class:`ConfigurationError` raised here."""
        keys = secrets_from(encrypt_key, "encrypt_key")
        tokens = secrets_from(verification_token, "verification_token")
        if isinstance(max_body_bytes, bool) or not isinstance(max_body_bytes, int):
            raise ConfigurationError("max_body_bytes must be an int")
        if max_body_bytes < 1:
            raise ConfigurationError("max_body_bytes must be positive")
        if timestamp_tolerance is not None and (
            isinstance(timestamp_tolerance, bool)
            or not isinstance(timestamp_tolerance, (int, float))
            or not timestamp_tolerance > 0
        ):
            raise ConfigurationError("timestamp_tolerance must be positive seconds, or None")
        ciphers = tuple((key, AESCipher(key)) for key in keys)
        return cls(keys, tokens, max_body_bytes, timestamp_tolerance, ciphers)

    @property
    def insecure(self) -> bool:
        """Neither an Encrypt Key nor a verification token: anyone can post events."""
        return not self.encrypt_keys and not self.verification_tokens


def env_settings(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Read ``LARK_ENCRYPT_KEY`` and ``LARK_VERIFICATION_TOKEN`` (unset or empty → ``None``)."""
    env = os.environ if environ is None else environ
    return {
        "encrypt_key": env.get("LARK_ENCRYPT_KEY") or None,
        "verification_token": env.get("LARK_VERIFICATION_TOKEN") or None,
    }
