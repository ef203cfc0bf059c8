"""Wire values in log lines cannot forge lines, and the unhandled-type memo stays small."""

from __future__ import annotations

import gc
import logging
import tracemalloc

import pytest

from lark_events_core._log import safe
from lark_events_core.logs import printable
from lark_events_core.testing import make_event
from tests.core.helpers import MESSAGE_TYPE, TOKEN, dispatcher, signed, text_message

FORGED = "ev\nFORGED 2026-01-01 ERROR lark_events admin logged in\r\x1b[2K\x00\x85\u2028"


@pytest.mark.parametrize("char", [chr(c) for c in [*range(32), 127, *range(128, 160)]])
def test_every_control_character_is_escaped(char: str) -> None:
    shown = safe(f"a{char}b")
    assert shown.isascii()
    assert shown.isprintable()
    assert shown.startswith("a\\")
    assert shown.endswith("b")


def test_lone_surrogates_unicode_separators_and_backslashes_are_escaped() -> None:
    assert safe("\ud800x") == "\\ud800x"
    assert safe("a\u2028b\u2029c") == "a\\u2028b\\u2029c"
    assert safe("a\\nb") == "a\\\\nb"  # a literal backslash-n cannot pass for an escaped newline
    assert safe("évènement") == "\\xe9v\\xe8nement"


def test_plain_values_are_unchanged_and_long_ones_marked_as_cut() -> None:
    assert safe("im.message.receive_v1") == "im.message.receive_v1"
    assert safe(None) == "-"
    assert safe("x" * 100, 10) == "xxxxxxxxxx..."
    assert printable is safe
    assert printable(ValueError("bad\nline")) == "bad\\nline"


def _one_line_each(caplog: pytest.LogCaptureFixture) -> list[str]:
    lines = [r.getMessage() for r in caplog.records if r.name.startswith("lark_events")]
    assert lines
    for line in lines:
        assert not any(char in line for char in "\n\r\x1b\x85\u2028"), line
    return lines


def test_forged_event_types_and_ids_stay_on_one_line(caplog: pytest.LogCaptureFixture) -> None:
    d = dispatcher()

    def fails(event: object) -> None:
        raise RuntimeError("boom")

    d.on(MESSAGE_TYPE, lambda e: None)
    d.on("im.chat.updated_v1", fails)
    with caplog.at_level(logging.INFO, logger="lark_events"):
        d.handle(signed(make_event(FORGED, {}, token=TOKEN)))  # no handler for event type
        message = text_message(event_id=FORGED)
        d.handle(signed(message))
        d.handle(signed(message))  # duplicate ignored
        d.handle(signed(make_event("im.chat.updated_v1", {}, token=TOKEN, event_id=FORGED + "2")))
    lines = _one_line_each(caplog)
    assert any("no handler" in line and "\\nFORGED" in line for line in lines)
    assert any("duplicate" in line and "\\nFORGED" in line for line in lines)
    assert any("failed" in line and "\\nFORGED" in line for line in lines)


def test_unhandled_type_memo_is_bounded_by_size_not_only_count() -> None:
    d = dispatcher(max_body_bytes=1 << 20)
    d.handle(signed(make_event("warm.up", {}, token=TOKEN)))
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for n in range(40):  # 40 distinct 200 KB types: 8 MB if the memo kept them whole
            event_type = f"{n:04d}" + "t" * 200_000
            assert d.handle(signed(make_event(event_type, {}, token=TOKEN))).status == 200
        gc.collect()
        kept = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert kept < 1_000_000, f"{kept} bytes kept after 40 unhandled 200 KB types"
