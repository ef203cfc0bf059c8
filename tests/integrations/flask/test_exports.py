"""``lark_events_flask.__all__`` lists exactly its public names, and each has a docstring."""

from __future__ import annotations

import lark_events_flask

PUBLIC = {
    "EXTENSION_KEY",
    "LarkEvents",
    "LarkEventsState",
    "get_dispatcher",
    "make_blueprint",
    "make_view",
    "to_flask",
}


def test_flask_package_exports_exactly_its_public_names() -> None:
    assert set(lark_events_flask.__all__) == PUBLIC
    defined = {n for n in vars(lark_events_flask) if not n.startswith("_")}
    assert defined - {"extension", "views", "observability", "annotations"} == PUBLIC


def test_every_public_callable_has_a_docstring() -> None:
    for name in PUBLIC - {"EXTENSION_KEY"}:
        assert getattr(lark_events_flask, name).__doc__, name
