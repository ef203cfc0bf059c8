"""``lark_events_core.inspector`` exports exactly its public classes and functions."""

from __future__ import annotations

import lark_events_core.inspector as inspector


def test_all_lists_the_public_classes_and_functions_and_nothing_missing() -> None:
    package = inspector.__name__
    defined_here = {
        name
        for name, value in vars(inspector).items()
        if not name.startswith("_") and getattr(value, "__module__", "").startswith(package)
    }
    assert set(inspector.__all__) == defined_here | {"REDACTED"}
    assert all(hasattr(inspector, name) for name in inspector.__all__)
