"""JSON in one place: ``orjson`` when installed (the ``fast`` extra), the stdlib otherwise."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

__all__ = ["BACKEND", "JSONDecodeError", "dumps", "encrypted_bytes", "loads"]

# Everything a parser raises on bad input: syntax, invalid UTF-8, huge integers, deep nesting.
JSONDecodeError: tuple[type[Exception], ...] = (ValueError, RecursionError)

# allow_nan=False: NaN and Infinity are not JSON, and every response must be valid JSON.
_encoder = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)
_ascii_encoder = json.JSONEncoder(ensure_ascii=True, separators=(",", ":"), allow_nan=False)


def _std_dumps(obj: Any) -> bytes:
    text = _encoder.encode(obj)
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        # A lone surrogate (the stdlib parser accepts "\ud800"): escaped, it is valid JSON.
        return _ascii_encoder.encode(obj).encode("ascii")


def _std_loads(data: bytes | str) -> Any:
    return json.loads(data)


_loads: Callable[[bytes | str], Any] = _std_loads
_dumps: Callable[[Any], bytes] = _std_dumps
BACKEND = "json"

try:  # pragma: no cover - depends on the environment
    import orjson

    def _orjson_dumps(obj: Any) -> bytes:
        data: bytes = orjson.dumps(obj)
        return data

    _loads = orjson.loads
    _dumps = _orjson_dumps
    BACKEND = "orjson"
except ImportError:  # pragma: no cover - depends on the environment
    pass


#: Parse JSON; raises one of :data:`JSONDecodeError`. (The backend's own function: this runs
#: several times per request, and a wrapper would add a call each time.)
loads: Callable[[bytes | str], Any] = _loads


def dumps(obj: Any) -> bytes:
    """Serialise to compact UTF-8 JSON bytes."""
    return _dumps(obj)


# -- the outer body of an encrypted request, in one pass (msgspec, when installed) -------------


def _load_encrypted_decoder() -> Callable[[bytes], bytes | None]:
    # msgspec decodes {"encrypt": "<base64>"} straight to the ciphertext: the JSON parse and the
    # base64 decoding in one pass, 2-3x faster than a parse then binascii.
    try:
        import msgspec
    except ImportError:
        return lambda data: None

    class _Encrypted(msgspec.Struct):
        encrypt: bytes | None = None

    decode = msgspec.json.Decoder(_Encrypted).decode
    failures = (msgspec.DecodeError, RecursionError, ValueError)

    def encrypted(data: bytes) -> bytes | None:
        try:
            return decode(data).encrypt
        except failures:
            return None

    return encrypted


def _first_encrypted_bytes(data: bytes) -> bytes | None:
    global encrypted_bytes
    encrypted_bytes = _load_encrypted_decoder()
    return encrypted_bytes(data)


#: The base64-decoded ``encrypt`` value of a JSON object body, or ``None`` when msgspec is not
#: installed or the body is anything else (not JSON, not an object, no ``encrypt``, not strict
#: base64): the caller then takes the general path, which names the problem. msgspec (optional,
#: the ``fast`` extra) is imported on the first call rather than with this module: it would add
#: about 13 ms to the package's import, and an app without an Encrypt Key never needs it.
encrypted_bytes: Callable[[bytes], bytes | None] = _first_encrypted_bytes
