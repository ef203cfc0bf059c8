"""The frame codec: byte-exact wire format, required fields, optional-field presence."""

from __future__ import annotations

import pytest

from lark_events_core.longconn.frames import Frame, FrameError, decode, encode, encode_partial


def test_ping_frame_encodes_zero_required_fields_byte_exactly() -> None:
    # SeqID=0 (tag 0x08), LogID=0 (0x10), service=5 (0x18), method=0 (0x20), header type:ping.
    ping = Frame(seq_id=0, log_id=0, service=5, method=0, headers=(("type", "ping"),))
    assert encode(ping) == b"\x08\x00\x10\x00\x18\x05\x20\x00\x2a\x0c\x0a\x04type\x12\x04ping"


def test_every_field_survives_a_round_trip() -> None:
    frame = Frame(
        seq_id=2**64 - 1,
        log_id=7,
        service=-(2**31),
        method=1,
        headers=(("type", "event"), ("message_id", "m1"), ("type", "again")),
        payload=b"\x00{}",
        payload_encoding="gzip",
        payload_type="json",
        log_id_new="abc",
    )
    assert decode(encode(frame)) == frame


def test_absent_optional_fields_stay_absent_and_empty_ones_stay_present() -> None:
    bare = decode(encode(Frame(1, 2, 3, 1)))
    assert bare.payload is None
    assert bare.log_id_new is None
    assert bare.payload_type is None
    empty = decode(encode(Frame(1, 2, 3, 1, payload=b"", log_id_new="")))
    assert empty.payload == b""
    assert empty.log_id_new == ""


@pytest.mark.parametrize("missing", ["SeqID", "LogID", "service", "method"])
def test_a_frame_missing_a_required_field_does_not_decode(missing: str) -> None:
    fields = {"SeqID": 1, "LogID": 2, "service": 3, "method": 1}
    del fields[missing]
    with pytest.raises(FrameError, match=missing):
        decode(encode_partial(**fields))


def test_a_header_missing_its_value_does_not_decode() -> None:
    from lark_events_core.longconn import frames

    msg = frames._FrameMessage(SeqID=1, LogID=2, service=3, method=1)
    msg.headers.add(key="type")
    with pytest.raises(FrameError):
        decode(msg.SerializePartialToString())


@pytest.mark.parametrize("data", [b"\xff\xff\xff", b"\x0a", b"not protobuf at all"])
def test_garbage_is_a_frame_error(data: bytes) -> None:
    with pytest.raises(FrameError):
        decode(data)


def test_header_lookup_returns_the_first_value() -> None:
    frame = Frame(0, 0, 0, 1, (("sum", "2"), ("sum", "3")))
    assert frame.header("sum") == "2"
    assert frame.header("missing") is None
    assert frame.with_header("biz_rt", "4").headers[-1] == ("biz_rt", "4")
