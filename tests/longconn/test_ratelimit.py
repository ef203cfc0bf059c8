"""Warnings about garbage frames: at most one line per interval per kind, with a count."""

from __future__ import annotations

import logging

import pytest

from lark_events_core.longconn._ratelimit import RateLimitedLog
from lark_events_core.longconn.delivery import OK, Delivery, Reply
from lark_events_core.longconn.receiver import Receiver


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_flood_of_one_kind_logs_once_per_interval_and_says_how_many_it_held(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = Clock()
    log = RateLimitedLog(logging.getLogger("test.ratelimit"), 10.0, clock=clock)
    with caplog.at_level(logging.WARNING, "test.ratelimit"):
        for _ in range(1000):
            log.warning("bad", "ignored a bad frame: %s", "x")
            clock.now += 0.001
        clock.now += 10.0
        log.warning("bad", "ignored a bad frame: %s", "y")
    lines = [r.getMessage() for r in caplog.records]
    assert lines == [
        "ignored a bad frame: x",
        "ignored a bad frame: y (999 more like it in the last 11s not logged)",
    ]


def test_kinds_are_limited_separately() -> None:
    clock = Clock()
    log = RateLimitedLog(logging.getLogger("test.ratelimit"), 10.0, clock=clock)
    assert log.warning("a", "a")
    assert log.warning("b", "b")
    assert not log.warning("a", "a")


def test_the_receiver_logs_a_flood_of_invalid_frames_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def target(delivery: Delivery) -> Reply:
        return OK

    receiver = Receiver(target, on_pong=lambda payload: None, fragment_ttl=5.0, max_in_flight=4)
    with caplog.at_level(logging.WARNING, "lark_events.longconn"):
        for _ in range(500):
            receiver.on_frame(b"\xff\xff garbage")
    assert len(caplog.records) == 1
    assert "invalid frame" in caplog.records[0].getMessage()
