"""The generated models: in sync with their generator, and each read back from its template."""

from __future__ import annotations

import importlib.util
import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import msgspec
import pytest

import lark_events_core
from lark_events_core import MODELS, Dispatcher, Event, HandlerCall
from lark_events_core.events import from_dict
from lark_events_core.events._index import INDEX
from lark_events_core.testing import build_payload
from lark_events_core.testing._generated_templates import TEMPLATES

ROOT = Path(__file__).resolve().parents[3]
SCHEMAS = json.loads((ROOT / "scripts" / "event_schemas.json").read_text("utf-8"))


def _generator() -> Any:
    spec = importlib.util.spec_from_file_location(
        "generate_events", ROOT / "scripts/generate_events.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["generate_events"] = module
    spec.loader.exec_module(module)
    return module


def test_checked_in_files_are_what_the_generator_writes() -> None:
    gen = _generator()
    files = gen.render_all(gen.load())
    # The checkout's files, or the installed wheel's when the tests run from the unpacked sdist
    # with the source packages removed (nox -s sdist).
    installed = Path(lark_events_core.__file__).resolve().parents[1]

    def checked_in(path: Path) -> str:
        found = path if path.exists() else installed / path.relative_to(ROOT)
        return found.read_text("utf-8")

    stale = [str(p.relative_to(ROOT)) for p, text in files.items() if checked_in(p) != text]
    assert stale == [], "run: python scripts/generate_events.py"


def test_every_event_type_of_the_schemas_has_a_model_and_a_template() -> None:
    assert len(SCHEMAS["events"]) >= 198
    for event_type in SCHEMAS["events"]:
        assert event_type in MODELS
    assert set(TEMPLATES) == set(INDEX)


def _read_back(value: Any, model: Any, where: str) -> None:
    """Every field of ``value`` (the JSON sent) is on ``model``, equal, with nothing extra."""
    if isinstance(value, dict) and isinstance(model, msgspec.Struct):
        json_names = {f.encode_name: f.name for f in msgspec.structs.fields(model)}
        assert set(value) == set(json_names), where  # exactly the platform's fields
        for key, item in value.items():
            _read_back(item, getattr(model, json_names[key]), f"{where}.{key}")
    elif isinstance(value, list):
        assert isinstance(model, tuple), where
        assert len(model) == len(value), where
        for i, (item, built) in enumerate(zip(value, model, strict=True)):
            _read_back(item, built, f"{where}[{i}]")
    elif isinstance(value, dict):
        assert isinstance(model, Mapping), where
        assert dict(model) == value, where
    else:
        assert model == value, where
        assert type(model) is type(value), where


@pytest.mark.parametrize("event_type", sorted(TEMPLATES))
def test_template_through_the_dispatcher_reads_back_every_field(event_type: str) -> None:
    d = Dispatcher(verification_token="t")
    seen: list[Event[Any]] = []
    d.on(event_type, seen.append)
    payload = build_payload(event_type, token="t")
    plaintext = json.dumps(payload).encode()
    step = d.prepare_plaintext(plaintext)
    assert isinstance(step, HandlerCall)
    response = d.run(step)
    assert response.status == 200
    (event,) = seen
    assert type(event.event) is MODELS[event_type]
    _read_back(payload["event"], event.event, event_type)


def _mistyped(value: Any) -> Any:
    """Every leaf replaced by a value of another JSON type, plus an unknown field per object."""
    if isinstance(value, dict):
        return {**{k: _mistyped(v) for k, v in value.items()}, "field_from_the_future": [1, 2]}
    if isinstance(value, list):
        return {"not": "a list"}
    if isinstance(value, str):
        return ["not", "a", "string"]
    return "not a number" if not isinstance(value, bool) else 3


@pytest.mark.parametrize("event_type", sorted(TEMPLATES))
def test_extra_and_mistyped_fields_become_defaults(event_type: str) -> None:
    model = MODELS[event_type]
    body = TEMPLATES[event_type]("tk", "cli_app")
    built = from_dict(model, _mistyped(body))
    assert type(built) is model
    _assert_all_defaults(built, event_type)


def _assert_all_defaults(obj: Any, where: str) -> None:
    """Every leaf at its default; a nested object stays an object (its leaves at defaults)."""
    for f in msgspec.structs.fields(obj):
        value = getattr(obj, f.name)
        if isinstance(value, msgspec.Struct):
            _assert_all_defaults(value, f"{where}.{f.name}")
        else:
            assert value == f.default, f"{where}.{f.name}"


def test_a_generated_service_module_is_imported_only_when_one_of_its_models_is_looked_up() -> None:
    import subprocess

    code = (
        "import sys, lark_events_core as c;"
        "assert 'lark_events_core.events.vc' not in sys.modules;"
        "m = c.MODELS['vc.meeting.all_meeting_started_v1'];"
        "assert 'lark_events_core.events.vc' in sys.modules;"
        "assert 'lark_events_core.events.corehr' not in sys.modules;"
        "print(m.__name__)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "VcMeetingAllMeetingStartedV1"


def test_secret_fields_stay_out_of_repr() -> None:
    model = MODELS["card.action.trigger"]
    assert "c-secret" not in repr(from_dict(model, {"token": "c-secret"}))
    for event_type in INDEX:
        cls = MODELS[event_type]
        for f in msgspec.structs.fields(cls):
            if "token" in f.name or "secret" in f.name:
                assert "c-secret" not in repr(cls(**{f.name: "c-secret"})), (event_type, f.name)
