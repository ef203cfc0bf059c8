"""Extract the platform's event schemas from the official SDK into ``scripts/event_schemas.json``.

The official Python SDK (``lark-oapi``, the ``bench`` extra) registers a typed handler for every
event type the platform documents, and each of its models declares the JSON type of every field
(``_types``). Those declarations are facts of the platform's API; this script reads them at run
time and writes them as plain data (event type → service, version and fields; object name →
fields), which ``scripts/generate_events.py`` turns into our own models. No code or prose of the
SDK is copied.

Run: ``.venv/bin/python scripts/extract_event_schemas.py`` (needs ``pip install lark-oapi``).
"""

from __future__ import annotations

import json
import re
import sys
import typing
from pathlib import Path
from typing import Any

OUT = Path(__file__).with_name("event_schemas.json")


def _builder() -> Any:
    import lark_oapi

    builder = lark_oapi.EventDispatcherHandler.builder("", "")
    for name in dir(builder):
        if name.startswith("register_p2_") and "customized" not in name:
            getattr(builder, name)(lambda data: None)
    return builder


class Extractor:
    """Walks model classes and records each object's fields once."""

    def __init__(self) -> None:
        self.objects: dict[str, dict[str, Any]] = {}
        self._names: dict[type, str] = {}

    def object_name(self, cls: type) -> str:
        """The key of ``cls`` in ``objects``: ``<service>.<version>.<ClassName>``."""
        known = self._names.get(cls)
        if known is not None:
            return known
        match = re.match(r"lark_oapi\.api\.(\w+)\.(v\d+)\.", cls.__module__)
        scope = f"{match.group(1)}.{match.group(2)}" if match else "callback"
        name = self._names[cls] = f"{scope}.{cls.__name__}"
        self.objects[name] = {}  # placeholder first: objects may nest themselves
        self.objects[name] = {"fields": self.fields(cls)}
        return name

    def fields(self, cls: type) -> list[list[Any]]:
        """``[name, type]`` pairs in declaration order."""
        instance = cls()
        declared: dict[str, Any] = getattr(cls, "_types", {})
        out = []
        for name in vars(instance):
            out.append([name, self.type_of(declared.get(name, Any))])
        return out

    def type_of(self, hint: Any) -> Any:
        """A JSON-able type: ``"str"``, ``"int"``, ``["list", T]``, ``["object", name]``, ..."""
        simple = {str: "str", int: "int", float: "float", bool: "bool", Any: "any", dict: "dict"}
        if hint in simple:
            return simple[hint]
        origin = typing.get_origin(hint)
        if origin in (list, tuple, set):
            args = typing.get_args(hint)
            return ["list", self.type_of(args[0]) if args else "any"]
        if origin is dict:
            return "dict"
        if isinstance(hint, type) and hint.__module__.startswith("lark_oapi"):
            return ["object", self.object_name(hint)]
        raise ValueError(f"unsupported type {hint!r}")


def extract() -> dict[str, Any]:
    """The schemas of every typed event and callback the SDK registers."""
    builder = _builder()
    extractor = Extractor()
    events: dict[str, Any] = {}
    processors = {**builder._processorMap, **builder._callback_processor_map}
    for key in sorted(processors):
        event_type = key.removeprefix("p2.")
        model = processors[key].type()
        data = model._types.get("event")
        if data is None:
            continue
        match = re.match(r"lark_oapi\.api\.(\w+)\.(v\d+)\.", model.__module__)
        service, version = (match.group(1), match.group(2)) if match else ("callback", "v1")
        events[event_type] = {
            "service": service,
            "version": version,
            "callback": key in builder._callback_processor_map,
            "body": extractor.object_name(data),
        }
    return {
        "source": _source(),
        "events": events,
        "objects": dict(sorted(extractor.objects.items())),
    }


def _source() -> str:
    from importlib.metadata import version

    return f"lark-oapi {version('lark-oapi')} (model field declarations)"


def main() -> int:
    """Write the data file."""
    data = extract()
    OUT.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"{len(data['events'])} event types, {len(data['objects'])} objects -> {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
