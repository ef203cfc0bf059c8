"""The byte-exact protocol vectors (a copy of shared/vectors/webhook.json; keep it byte-exact)."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

VECTORS_PATH = Path(__file__).resolve().parents[1] / "vectors" / "webhook.json"


@cache
def vectors() -> dict[str, Any]:
    """The parsed vectors file."""
    data: dict[str, Any] = json.loads(VECTORS_PATH.read_bytes())
    return data


def request_vectors() -> list[dict[str, Any]]:
    """Each request vector: name, headers, body (text), expect_status, maybe expect_json."""
    return list(vectors()["requests"])


def receiver() -> dict[str, Any]:
    """How the receiver in the vectors is configured (key, token, handled types)."""
    return dict(vectors()["receiver"])
