"""JSON in one place: ``orjson`` when installed (the ``fast`` extra), the stdlib otherwise."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

__all__ = ["BACKEND", "JSONDecodeError", "dumps", "loads"]

# Everything a parser raises on bad input: syntax, invalid UTF-8, huge integers, deep nesting.
JSONDecodeError: tuple[type[Exception], ...] = (ValueError, RecursionError)

_loads: Callable[[bytes | str], Any]
_dumps: Callable[[Any], bytes]

try:  # pragma: no cover - depends on the environment
    import orjson

    def _orjson_dumps(obj: Any) -> bytes:
        data: bytes = orjson.dumps(obj)
        return data

    _loads = orjson.loads
    _dumps = _orjson_dumps
    BACKEND = "orjson"
except ImportError:  # pragma: no cover - depends on the environment
    _encoder = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))

    def _std_dumps(obj: Any) -> bytes:
        return _encoder.encode(obj).encode("utf-8")

    _loads = json.loads
    _dumps = _std_dumps
    BACKEND = "json"


def loads(data: bytes | str) -> Any:
    """Parse JSON; raises one of :data:`JSONDecodeError`."""
    return _loads(data)


def dumps(obj: Any) -> bytes:
    """Serialise to compact UTF-8 JSON bytes."""
    return _dumps(obj)
