"""Spans of a server or worker process, written to a file the test reads: one JSON object a line.

A process started with ``LARK_SPANS_FILE`` calls :func:`install_from_env`, which sets the global
tracer provider to one that appends every finished span there.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult

ENV_VAR = "LARK_SPANS_FILE"


def record(span: ReadableSpan) -> dict[str, Any]:
    """What the tests compare of a span: its name, kind, ids, parent and attributes."""
    assert span.context is not None
    return {
        "name": span.name,
        "kind": span.kind.name,
        "trace_id": span.context.trace_id,
        "span_id": span.context.span_id,
        "parent": None if span.parent is None else span.parent.span_id,
        "attributes": dict(span.attributes or {}),
    }


class JsonLinesExporter(SpanExporter):
    """Appends :func:`record` of each finished span to ``path``."""

    def __init__(self, path: str) -> None:
        self.path = path

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        with open(self.path, "a", encoding="utf-8") as out:
            for span in spans:
                out.write(json.dumps(record(span)) + "\n")
        return SpanExportResult.SUCCESS


def install_from_env() -> bool:
    """With ``LARK_SPANS_FILE`` set, make the global tracer provider write there; ``True`` then."""
    path = os.environ.get(ENV_VAR)
    if not path:
        return False
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(JsonLinesExporter(path)))
    trace.set_tracer_provider(provider)
    return True


def read(path: Path) -> list[dict[str, Any]]:
    """The spans written to ``path`` so far."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line]
