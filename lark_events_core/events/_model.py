"""Builds frozen dataclass models from decoded JSON, tolerantly.

Unknown fields are ignored, missing ones take their default, and a value of the wrong JSON type
becomes the default rather than an exception: the platform adds fields over time and a model
must never be the reason an event is lost. The raw dict is always there for anything a model lacks.
"""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

__all__ = ["from_dict"]

T = TypeVar("T")
_Converter = Callable[[Any], Any]


def from_dict(cls: type[T], data: Any) -> T:
    """Build the dataclass ``cls`` from ``data`` (decoded JSON; anything else → defaults)."""
    if not isinstance(data, Mapping):
        data = {}
    kwargs: dict[str, Any] = {}
    for name, key, convert in _fields(cls):  # type: ignore[arg-type]  # classes are hashable
        if key in data:
            value = convert(data[key])
            if value is not _MISSING:
                kwargs[name] = value
    return cls(**kwargs)


_MISSING: Any = object()


def _to_str(value: Any) -> Any:
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return _MISSING


def _to_int(value: Any) -> Any:
    if isinstance(value, bool):
        return _MISSING
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit() and len(value) < 40:
        return int(value)
    return _MISSING


def _to_bool(value: Any) -> Any:
    return value if isinstance(value, bool) else _MISSING


def _to_any(value: Any) -> Any:
    return value


def _to_mapping(value: Any) -> Any:
    return value if isinstance(value, Mapping) else _MISSING


def _converter(hint: Any) -> _Converter:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        return _converter(args[0]) if len(args) == 1 else _to_any
    if hint is str:
        return _to_str
    if hint is int:
        return _to_int
    if hint is bool:
        return _to_bool
    if origin is tuple:
        inner = _converter(typing.get_args(hint)[0])

        def to_tuple(value: Any) -> Any:
            if not isinstance(value, list):
                return _MISSING
            items = (inner(item) for item in value)
            return tuple(item for item in items if item is not _MISSING)

        return to_tuple
    if (origin is not None and origin in (Mapping, dict)) or hint in (Mapping, dict):
        return _to_mapping
    if dataclasses.is_dataclass(hint) and isinstance(hint, type):
        model: type[Any] = hint

        def to_model(value: Any) -> Any:
            return from_dict(model, value) if isinstance(value, Mapping) else _MISSING

        return to_model
    return _to_any


@functools.cache
def _fields(cls: type[Any]) -> tuple[tuple[str, str, _Converter], ...]:
    hints = typing.get_type_hints(cls)
    out = []
    for f in dataclasses.fields(cls):
        key = f.metadata.get("json", f.name)
        out.append((f.name, key, _converter(hints[f.name])))
    return tuple(out)
