"""``from_dict`` on any model shape (dataclasses, msgspec Structs): every path agrees."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import msgspec
import pytest

from lark_events_core.events import Event, from_dict


@dataclass(frozen=True, slots=True)
class Inner:
    name: str | None = None
    count: int | None = None


@dataclass(frozen=True, slots=True)
class Outer:
    inner: Inner | None = None
    items: tuple[Inner, ...] = ()
    flag: bool | None = None
    extra: Mapping[str, Any] | None = None
    anything: Any = None
    renamed: str | None = field(default=None, metadata={"json": "wireName"})


@dataclass(frozen=True)
class NotSlotted:
    a: str | None = None
    b: int = 7


@dataclass(frozen=True, kw_only=True)
class KeywordOnly:
    a: str | None = None
    b: int = 0


@dataclass(frozen=True)
class Required:
    a: str
    b: int = 1


@dataclass(frozen=True)
class WithFactory:
    tags: list[str] = field(default_factory=list)
    name: str | None = None


@dataclass(frozen=True)
class WithPostInit:
    a: str | None = None
    seen: list[str] = field(default_factory=list, compare=False)

    def __post_init__(self) -> None:
        self.seen.append("post_init")


@dataclass(frozen=True, slots=True)
class Base:
    a: str | None = None


@dataclass(frozen=True, slots=True)
class Child(Base):
    b: str | None = None


@dataclass(frozen=True, slots=True)
class Tree:
    label: str | None = None
    children: tuple[Tree, ...] = ()


def test_nested_models_tuples_mappings_and_json_names() -> None:
    data = {
        "inner": {"name": "n", "count": "3"},
        "items": [{"name": "a"}, "not an object", {"count": 2}],
        "flag": True,
        "extra": {"k": [1]},
        "anything": [1, {"x": None}],
        "wireName": "w",
        "unknown": 1,
    }
    assert from_dict(Outer, data) == Outer(
        inner=Inner("n", 3),
        items=(Inner(name="a"), Inner(count=2)),
        flag=True,
        extra={"k": [1]},
        anything=[1, {"x": None}],
        renamed="w",
    )


def test_null_and_wrong_types_become_defaults() -> None:
    data = {"inner": None, "items": None, "flag": "yes", "extra": [1], "wireName": {}}
    assert from_dict(Outer, data) == Outer()
    assert from_dict(NotSlotted, {"a": None, "b": None}) == NotSlotted()


def test_any_mapping_is_accepted_not_only_dict() -> None:
    data = MappingProxyType({"inner": MappingProxyType({"name": "m"})})
    assert from_dict(Outer, data) == Outer(inner=Inner(name="m"))


@pytest.mark.parametrize(
    ("cls", "data", "expected"),
    [
        (NotSlotted, {"a": "x", "b": "5"}, NotSlotted("x", 5)),
        (KeywordOnly, {"a": "x", "b": 2}, KeywordOnly(a="x", b=2)),
        (Required, {"a": "x"}, Required("x")),
        (WithFactory, {"tags": ["a"], "name": "n"}, WithFactory(name="n")),
        (Child, {"a": "1", "b": "2"}, Child(a="1", b="2")),
    ],
)
def test_every_dataclass_shape_builds(cls: type[Any], data: Any, expected: Any) -> None:
    # ``list[str]`` is not a converted type (only tuples are), so it passes through as is.
    built = from_dict(cls, data)
    if cls is WithFactory:
        assert built.tags == ["a"]
        assert built.name == "n"
    else:
        assert built == expected


def test_required_field_missing_is_a_type_error() -> None:
    with pytest.raises(TypeError):
        from_dict(Required, {})


def test_post_init_runs() -> None:
    assert from_dict(WithPostInit, {"a": "x"}).seen == ["post_init"]


def test_default_factories_are_fresh_per_instance() -> None:
    first, second = from_dict(WithFactory, {}), from_dict(WithFactory, {})
    assert first.tags == []
    assert first.tags is not second.tags


def test_recursive_models() -> None:
    tree = from_dict(Tree, {"label": "r", "children": [{"label": "c", "children": [{}]}]})
    assert tree == Tree("r", (Tree("c", (Tree(),)),))


def test_built_models_stay_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        from_dict(Outer, {}).flag = True  # type: ignore[misc]


class SInner(msgspec.Struct, frozen=True):
    name: str | None = None
    count: int | None = None


class SOuter(msgspec.Struct, frozen=True):
    inner: SInner | None = None
    items: tuple[SInner, ...] = ()
    flag: bool | None = None
    ratio: float | None = None
    extra: Mapping[str, Any] | None = None
    anything: Any = None
    renamed: str | None = msgspec.field(default=None, name="wireName")


class SRequired(msgspec.Struct, frozen=True, kw_only=True):
    a: str
    tags: list[str] = msgspec.field(default_factory=list)


_STRUCT_DATA: list[Any] = [
    {},
    {"inner": {"name": "n", "count": 3}, "items": [{"name": "a"}, {}], "flag": True},
    {"ratio": 2, "extra": {"k": [1]}, "anything": [None], "wireName": "w", "unknown": 1},
    {"inner": {"name": 5, "count": "7"}, "items": [{"count": "x"}, 3], "flag": "yes"},
    {"items": None, "inner": [], "ratio": "1.5", "wireName": {"no": 1}},
    {"inner": None, "extra": "not a mapping", "flag": None},
    None,
    [1, 2],
    MappingProxyType({"inner": {"name": "m"}}),
]


def _tolerant(cls: type[Any], data: Any) -> Any:
    # The builder msgspec falls back to, called directly.
    from lark_events_core.events._model import _builder

    return _builder(cls)(data)


@pytest.mark.parametrize("data", _STRUCT_DATA)
def test_a_struct_builds_the_same_whether_msgspec_or_the_tolerant_builder_builds_it(
    data: Any,
) -> None:
    built = from_dict(SOuter, data)
    assert type(built) is SOuter
    assert built == _tolerant(SOuter, data)


def test_a_mistyped_field_falls_back_to_the_tolerant_builder_and_keeps_the_rest() -> None:
    built = from_dict(SOuter, {"inner": {"name": 5, "count": "7"}, "flag": "yes", "wireName": "w"})
    assert built == SOuter(inner=SInner(name="5", count=7), renamed="w")


def test_struct_with_required_fields_and_factories() -> None:
    assert from_dict(SRequired, {"a": "x"}) == SRequired(a="x")
    assert from_dict(SRequired, {"a": 1, "tags": ["t"]}) == SRequired(a="1", tags=["t"])
    with pytest.raises(TypeError):
        from_dict(SRequired, {})


def test_struct_annotation_picks_the_model() -> None:
    from lark_events_core.handlers import _annotated_model

    def handler(event: Event[SOuter]) -> None:
        pass

    assert _annotated_model(handler) is SOuter
