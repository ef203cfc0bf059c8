"""JSON in one place: ``orjson`` when installed (the ``fast`` extra), the stdlib otherwise.

msgspec (a core dependency) decodes what has a typed shape: an encrypted body's outer object and
base64 (:func:`encrypted_bytes`), and the typed models (``events``, ``envelope``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import msgspec

__all__ = [
    "BACKEND",
    "DECODE_FAILURES",
    "JSONDecodeError",
    "decode_object",
    "decode_skipped",
    "dumps",
    "encrypted_bytes",
    "loads",
]

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


# -- msgspec: the outer body of an encrypted request, and what its one-pass decoding accepted --

_decode_any = msgspec.json.Decoder().decode
#: What a msgspec decoding raises on input it refuses (ValidationError is a DecodeError; invalid
#: UTF-8 is a ValueError).
DECODE_FAILURES = (msgspec.DecodeError, RecursionError, ValueError)


class _Encrypted(msgspec.Struct):
    encrypt: bytes | None = None


_decode_encrypted = msgspec.json.Decoder(_Encrypted).decode


def encrypted_bytes(data: bytes) -> bytes | None:
    """The base64-decoded ``encrypt`` value of a JSON object body, or ``None`` when the body is
    anything else (not JSON, not an object, no ``encrypt``, not strict base64): the caller then
    takes the general path, which names the problem. msgspec decodes the JSON and the base64 in
    one pass, 2-3x faster than a parse then binascii."""
    try:
        return _decode_encrypted(data).encrypt
    except DECODE_FAILURES:
        return None


def decode_skipped(data: bytes | msgspec.Raw) -> Any:
    """Parse JSON that a msgspec typed decoding accepted, skipping the fields it does not read.

    msgspec parses it; a number it refuses (``1e999``) is parsed by the stdlib instead, as the
    stdlib backend of :func:`loads` would.
    """
    try:
        return _decode_any(data)
    except DECODE_FAILURES:
        return json.loads(bytes(data))


def decode_object(data: bytes) -> dict[str, Any]:
    """:func:`decode_skipped` for a whole body: its ``dict`` (``{}`` if it is not an object)."""
    value = decode_skipped(data)
    return value if type(value) is dict else {}
