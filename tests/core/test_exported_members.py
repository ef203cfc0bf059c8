"""``__all__`` lists exactly the public names (after httpx's test_exported_members)."""

from __future__ import annotations
import __future__

import importlib
import types

import pytest

import lark_events_core

MODULES = [
    "lark_events_core",
    "lark_events_core.crypto",
    "lark_events_core.signature",
    "lark_events_core.envelope",
    "lark_events_core.pipeline",
    "lark_events_core.http",
    "lark_events_core.settings",
    "lark_events_core.results",
    "lark_events_core.errors",
    "lark_events_core.events",
    "lark_events_core.testing",
    "lark_events_core.dispatcher",
    "lark_events_core.handlers",
    "lark_events_core.claims",
    "lark_events_core.deadline",
    "lark_events_core.dedup",
    "lark_events_core.logs",
]


def test_package_exports_every_public_name_and_nothing_private() -> None:
    exported = set(lark_events_core.__all__)
    # dir(), not vars(): a few rarely used names are imported on first use (PEP 562).
    public = {
        name
        for name in dir(lark_events_core)
        if not name.startswith("_")
        and not isinstance(getattr(lark_events_core, name), (types.ModuleType, __future__._Feature))
    }
    assert exported - {"__version__"} == public
    assert not any(name.startswith("_") for name in exported - {"__version__"})


@pytest.mark.parametrize("module_name", MODULES)
def test_every_name_in_all_exists(module_name: str) -> None:
    module = importlib.import_module(module_name)
    missing = [name for name in module.__all__ if not hasattr(module, name)]
    assert missing == []
    assert len(set(module.__all__)) == len(module.__all__)


def test_public_names_are_documented() -> None:
    undocumented = [
        name
        for name in lark_events_core.__all__
        if callable(getattr(lark_events_core, name))
        and not (getattr(lark_events_core, name).__doc__ or "").strip()
    ]
    assert undocumented == []


def test_public_classes_and_functions_belong_to_the_package() -> None:
    for name in lark_events_core.__all__:
        value = getattr(lark_events_core, name)
        if isinstance(value, (type, types.FunctionType)):
            assert value.__module__.startswith("lark_events_core"), name
