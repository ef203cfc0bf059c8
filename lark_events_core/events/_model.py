"""Builds typed models (frozen :class:`msgspec.Struct` classes or dataclasses) tolerantly.

Unknown fields are ignored, missing ones take their default, and a value of the wrong JSON type
becomes the default rather than an exception: the platform adds fields over time and a model
must never be the reason an event is lost. The raw dict is always there for anything a model lacks.

Building models is on every typed handler's path, so each model class gets one straight-line
builder function, generated once (as :mod:`dataclasses` generates ``__init__``): one ``dict.get``
and one type check per field, and for slotted classes the slots are filled directly instead of
through the frozen ``__setattr__``. Classes the fast path cannot serve (required fields, default
factories, ``__post_init__``) use a plain loop with the same conversions.

A :class:`msgspec.Struct` model is first converted by msgspec in strict mode (a C loop, several
times faster); strict mode accepts exactly the values that need no conversion here, so it builds
the same object. Anything it refuses (a field of the wrong type, a number for a string, a
``null`` list) takes the tolerant builder, so a model is never the reason an event is lost.
"""

from __future__ import annotations

import functools
import sys
import types
import typing
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple, TypeVar

import msgspec

__all__ = ["from_dict", "hiding_repr", "is_model"]

T = TypeVar("T")
_Converter = Callable[[Any], Any]
_MISSING: Any = object()
_EMPTY: Mapping[str, Any] = types.MappingProxyType({})


_Struct = msgspec.Struct
_convert = msgspec.convert
_ValidationError = msgspec.ValidationError


def from_dict(cls: type[T], data: Any) -> T:
    """Build the model ``cls`` from ``data`` (decoded JSON; anything else → defaults).

    ``cls`` is a :class:`msgspec.Struct` class or a dataclass.
    """
    if issubclass(cls, _Struct):
        try:
            return _convert(data, cls)
        except _ValidationError:
            pass
    result: T = _builder(cls)(data)
    return result


def is_model(cls: Any) -> bool:
    """Whether ``cls`` is a model class :func:`from_dict` builds (a Struct or a dataclass)."""
    if not isinstance(cls, type):
        return False
    # No class is a dataclass before dataclasses is imported: importing the package does not.
    dataclasses = sys.modules.get("dataclasses")
    return issubclass(cls, _Struct) or (dataclasses is not None and dataclasses.is_dataclass(cls))


def hiding_repr(*hidden: str) -> Callable[[Any], str]:
    """A ``__repr__`` for a Struct that leaves out the fields ``hidden`` (tokens, secrets)."""

    def __repr__(self: Any) -> str:
        shown = ", ".join(
            f"{name}={getattr(self, name)!r}"
            for name in self.__struct_fields__
            if name not in hidden
        )
        return f"{type(self).__name__}({shown})"

    return __repr__


class _Field(NamedTuple):
    """One field of a model, whatever its kind."""

    name: str
    key: str  # its JSON name
    hint: Any
    default: Any  # _MISSING: required, or built by a factory


def _model_fields(cls: type[Any]) -> tuple[_Field, ...]:
    if issubclass(cls, _Struct):
        return tuple(
            _Field(
                f.name,
                f.encode_name,
                f.type,
                _MISSING if f.default is msgspec.NODEFAULT else f.default,
            )
            for f in msgspec.structs.fields(cls)
        )
    import dataclasses  # loaded already: cls is a dataclass

    hints = typing.get_type_hints(cls)
    return tuple(
        _Field(
            f.name,
            f.metadata.get("json", f.name),
            hints[f.name],
            _MISSING if f.default is dataclasses.MISSING or not f.init else f.default,
        )
        for f in dataclasses.fields(cls)
    )


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


def _to_float(value: Any) -> Any:
    if isinstance(value, bool):
        return _MISSING
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str) and len(value) < 40:
        try:
            return float(value)
        except ValueError:
            return _MISSING
    return _MISSING


def _to_bool(value: Any) -> Any:
    return value if isinstance(value, bool) else _MISSING


def _to_any(value: Any) -> Any:
    return value


def _to_mapping(value: Any) -> Any:
    return value if isinstance(value, Mapping) else _MISSING


# The exact JSON type that needs no conversion, per converter: the generated code checks
# ``type(v) is <exact>`` inline and calls the converter only for anything else.
_EXACT: dict[_Converter, type] = {
    _to_str: str,
    _to_int: int,
    _to_float: float,
    _to_bool: bool,
    _to_mapping: dict,
}


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
    if hint is float:
        return _to_float
    if origin is tuple:
        inner = _converter(typing.get_args(hint)[0])

        def to_tuple(value: Any) -> Any:
            if type(value) is not list:
                return _MISSING
            if not value:
                return ()
            items = [inner(item) for item in value]
            return tuple(item for item in items if item is not _MISSING)

        return to_tuple
    if (origin is not None and origin in (Mapping, dict)) or hint in (Mapping, dict):
        return _to_mapping
    if is_model(hint):
        model: type[Any] = hint

        built: list[Callable[[Any], Any]] = []  # resolved on first use: models may nest

        def to_model(value: Any) -> Any:
            if type(value) is not dict and not isinstance(value, Mapping):
                return _MISSING
            if not built:
                built.append(_builder(model))
            return built[0](value)

        return to_model
    return _to_any


def _fields(cls: type[Any]) -> tuple[tuple[str, str, _Converter], ...]:
    return tuple((f.name, f.key, _converter(f.hint)) for f in _model_fields(cls))


def _as_mapping(data: Any) -> Mapping[str, Any]:
    return data if isinstance(data, Mapping) else _EMPTY


def _build_slowly(
    cls: type[Any], fields: tuple[tuple[str, str, _Converter], ...], data: Any
) -> Any:
    data = data if type(data) is dict else _as_mapping(data)
    kwargs: dict[str, Any] = {}
    for name, key, convert in fields:
        if key in data:
            value = convert(data[key])
            if value is not _MISSING:
                kwargs[name] = value
    return cls(**kwargs)


def _all_slots(cls: type[Any], names: list[str]) -> bool:
    """Whether every field is a slot of ``cls`` itself (so it can be filled directly)."""
    return all(isinstance(cls.__dict__.get(n), types.MemberDescriptorType) for n in names)


_BUILDERS: dict[type[Any], Callable[[Any], Any]] = {}


def _builder(cls: type[Any]) -> Callable[[Any], Any]:
    """The builder of ``cls``, made on first use (a race only builds it twice)."""
    try:
        return _BUILDERS[cls]
    except KeyError:
        built = _BUILDERS[cls] = _make_builder(cls)
        return built


def _make_builder(cls: type[Any]) -> Callable[[Any], Any]:
    """Generated straight-line code, or the loop when the class needs it."""
    fields = _model_fields(cls)
    struct = issubclass(cls, _Struct)
    simple = not hasattr(cls, "__post_init__") and all(f.default is not _MISSING for f in fields)
    if not simple:
        return functools.partial(_build_slowly, cls, _fields(cls))
    # A Struct's __init__ is C and fills its slots itself; a frozen dataclass's goes through
    # __setattr__ per field, so its slots are filled directly.
    slotted = not struct and _all_slots(cls, [f.name for f in fields])
    namespace: dict[str, Any] = {
        "cls": cls,
        "new": object.__new__,
        "dict": dict,
        "as_mapping": _as_mapping,
        "MISSING": _MISSING,
    }
    lines = [
        "def build(data):",
        "    if type(data) is not dict:",
        "        data = as_mapping(data)",
        "    get = data.get",
    ]
    values = []
    for i, (f, (_, key, convert)) in enumerate(zip(fields, _fields(cls), strict=True)):
        namespace[f"K{i}"], namespace[f"D{i}"], namespace[f"C{i}"] = key, f.default, convert
        exact = _EXACT.get(convert)
        if convert is _to_any:
            lines.append(f"    v{i} = get(K{i}, D{i})")
        else:
            if exact is not None:
                namespace[f"T{i}"] = exact
                check = f"type(v{i}) is not T{i}"
            else:
                check = "True"
            lines += [
                f"    v{i} = get(K{i})",
                f"    if v{i} is None:",
                f"        v{i} = D{i}",
                f"    elif {check}:",
                f"        v{i} = C{i}(v{i})",
                f"        if v{i} is MISSING:",
                f"            v{i} = D{i}",
            ]
        values.append(f"v{i}")
    if slotted:
        # Fill the slots directly: the frozen __setattr__ would cost a call per field.
        lines.append("    obj = new(cls)")
        for i, f in enumerate(fields):
            namespace[f"S{i}"] = cls.__dict__[f.name].__set__
            lines.append(f"    S{i}(obj, v{i})")
        lines.append("    return obj")
    else:
        args = ", ".join(f"{f.name}={v}" for f, v in zip(fields, values, strict=True))
        lines.append(f"    return cls({args})")
    exec("\n".join(lines), namespace)  # noqa: S102 - our own generated code, as dataclasses does
    built: Callable[[Any], Any] = namespace["build"]
    return built
