"""Shared fixtures. Helpers live in tests/support/ so that test modules can import them too."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.vectors import receiver, request_vectors


@pytest.fixture
def vector_receiver() -> dict[str, Any]:
    """Key, token and handled types of the receiver the request vectors expect."""
    return receiver()


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Any test taking ``request_vector`` runs once per request vector, named after it."""
    if "request_vector" in metafunc.fixturenames:
        vecs = request_vectors()
        metafunc.parametrize("request_vector", vecs, ids=[v["name"] for v in vecs])
