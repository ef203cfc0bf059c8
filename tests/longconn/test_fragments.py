"""Fragment reassembly: any order, bounded time and memory."""

from __future__ import annotations

import itertools

import pytest

from lark_events_core.longconn.fragments import Reassembler


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize("order", list(itertools.permutations(range(3))))
def test_fragments_join_in_seq_order_whatever_the_arrival_order(order: tuple[int, ...]) -> None:
    parts = [b'{"a":', b'"xyz"', b"}"]
    r = Reassembler()
    results = [r.add("m", 3, i, parts[i]) for i in order]
    assert results[:2] == [None, None]
    assert results[2] == b'{"a":"xyz"}'
    assert len(r) == 0


def test_a_whole_message_passes_straight_through() -> None:
    assert Reassembler().add("m", 1, 0, b"{}") == b"{}"


def test_incomplete_messages_expire_after_the_ttl() -> None:
    clock = Clock()
    r = Reassembler(ttl=5.0, clock=clock)
    assert r.add("m", 2, 0, b"a") is None
    clock.now += 5.1
    # The late second fragment starts a new, incomplete message instead of completing the old.
    assert r.add("m", 2, 1, b"b") is None
    assert r.dropped == 1
    assert len(r) == 1


def test_fragments_within_the_ttl_still_join() -> None:
    clock = Clock()
    r = Reassembler(ttl=5.0, clock=clock)
    r.add("m", 2, 1, b"b")
    clock.now += 4.9
    assert r.add("m", 2, 0, b"a") == b"ab"


@pytest.mark.parametrize(("total", "seq"), [(0, 0), (2, 2), (2, -1), (100_000, 1)])
def test_impossible_indexes_are_rejected(total: int, seq: int) -> None:
    with pytest.raises(ValueError, match="out of range"):
        Reassembler().add("m", total, seq, b"x")


def test_a_changed_fragment_count_is_rejected() -> None:
    r = Reassembler()
    r.add("m", 3, 0, b"x")
    with pytest.raises(ValueError, match="count changed"):
        r.add("m", 2, 1, b"y")


def test_pending_messages_are_bounded_in_number_and_bytes() -> None:
    r = Reassembler(max_messages=2, max_bytes=10)
    r.add("a", 2, 0, b"1234")
    r.add("b", 2, 0, b"1234")
    r.add("c", 2, 0, b"1234")  # over both bounds: "a" goes
    assert len(r) == 2
    assert r.dropped == 1
    assert r.add("a", 2, 1, b"5") is None  # "a" was dropped, so nothing completes
    assert r.add("c", 2, 1, b"56") == b"123456"


def test_a_single_message_larger_than_the_byte_bound_is_dropped() -> None:
    r = Reassembler(max_bytes=4)
    assert r.add("big", 2, 0, b"12345") is None
    assert len(r) == 0
    assert r.dropped == 1
