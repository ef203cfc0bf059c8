"""The load mode's figures and progress display."""

from __future__ import annotations

import io

from lark_events_core.cli._load import Progress, percentile


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 0.5) == 50.0
    assert percentile(values, 0.9) == 90.0
    assert percentile(values, 0.99) == 99.0
    assert percentile([7.0], 0.99) == 7.0
    assert percentile([], 0.5) == 0.0


def test_progress_draws_a_bar_on_a_terminal() -> None:
    stream = _Terminal()
    progress = Progress(4, stream)
    for _ in range(4):
        progress.advance()
    text = stream.getvalue()
    assert text.startswith("\r  [")
    assert text.endswith("] 4/4\n")
    assert "progress:" not in text


def test_progress_prints_plain_lines_otherwise() -> None:
    stream = io.StringIO()
    progress = Progress(20, stream)
    for _ in range(20):
        progress.advance()
    lines = stream.getvalue().splitlines()
    assert lines[0] == "  progress: 2/20 (10%)"
    assert lines[-1] == "  progress: 20/20 (100%)"
    assert len(lines) == 10
    assert "\r" not in stream.getvalue()
