"""The long connection's protobuf frames, as a small typed codec.

The wire format is proto2 ``pbbp2.Frame`` / ``pbbp2.Header`` (``LONG_CONNECTION.md`` §3). The
message classes are built at import time from a ``FileDescriptorProto`` in a private descriptor
pool instead of committing ``protoc`` output: generated ``*_pb2.py`` files pin a minimum protobuf
runtime (newer generators emit a version check that refuses older runtimes, while our extra allows
``protobuf>=4.25``), they need regenerating whenever that changes, and their untyped attribute
access would need a mypy-protobuf stub beside them. The private pool also keeps these names apart
from any other ``pbbp2`` (the official SDK registers one in the default pool). The protobuf
runtime (upb) still does all the encoding and decoding; this module only maps messages to the
frozen :class:`Frame` dataclass so the rest of the code is typed.

Required fields are always encoded, even when zero, and a frame missing one does not decode:
upb's parser accepts such bytes, so :func:`decode` checks ``IsInitialized()`` itself.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from operator import attrgetter
from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.message import DecodeError, EncodeError

__all__ = [
    "METHOD_CONTROL",
    "METHOD_DATA",
    "Frame",
    "FrameError",
    "decode",
    "encode",
    "encode_partial",
]

METHOD_CONTROL = 0
METHOD_DATA = 1

_FD = descriptor_pb2.FieldDescriptorProto


def _build_classes() -> tuple[Any, Any]:
    proto = descriptor_pb2.FileDescriptorProto(
        name="lark_events/pbbp2.proto", package="pbbp2", syntax="proto2"
    )
    header = proto.message_type.add(name="Header")
    header.field.add(name="key", number=1, type=_FD.TYPE_STRING, label=_FD.LABEL_REQUIRED)
    header.field.add(name="value", number=2, type=_FD.TYPE_STRING, label=_FD.LABEL_REQUIRED)
    frame = proto.message_type.add(name="Frame")
    fields: tuple[tuple[str, int, int, int], ...] = (
        ("SeqID", 1, _FD.TYPE_UINT64, _FD.LABEL_REQUIRED),
        ("LogID", 2, _FD.TYPE_UINT64, _FD.LABEL_REQUIRED),
        ("service", 3, _FD.TYPE_INT32, _FD.LABEL_REQUIRED),
        ("method", 4, _FD.TYPE_INT32, _FD.LABEL_REQUIRED),
        ("headers", 5, _FD.TYPE_MESSAGE, _FD.LABEL_REPEATED),
        ("payload_encoding", 6, _FD.TYPE_STRING, _FD.LABEL_OPTIONAL),
        ("payload_type", 7, _FD.TYPE_STRING, _FD.LABEL_OPTIONAL),
        ("payload", 8, _FD.TYPE_BYTES, _FD.LABEL_OPTIONAL),
        ("LogIDNew", 9, _FD.TYPE_STRING, _FD.LABEL_OPTIONAL),
    )
    for name, number, type_, label in fields:
        field = frame.field.add(name=name, number=number, type=type_, label=label)
        if type_ == _FD.TYPE_MESSAGE:
            field.type_name = ".pbbp2.Header"
    pool = descriptor_pool.DescriptorPool()
    pool.Add(proto)
    return (
        message_factory.GetMessageClass(pool.FindMessageTypeByName("pbbp2.Frame")),
        message_factory.GetMessageClass(pool.FindMessageTypeByName("pbbp2.Header")),
    )


_FrameMessage, _HeaderMessage = _build_classes()
_key_value = attrgetter("key", "value")


class FrameError(ValueError):
    """Bytes that are not a valid frame (not protobuf, or a required field missing)."""


@dataclass(frozen=True, slots=True)
class Frame:
    """One frame. Optional fields are ``None`` when absent, so an echo keeps exactly what came."""

    seq_id: int
    log_id: int
    service: int
    method: int
    headers: tuple[tuple[str, str], ...] = ()
    payload: bytes | None = None
    payload_encoding: str | None = None
    payload_type: str | None = None
    log_id_new: str | None = None

    def header(self, key: str) -> str | None:
        """The first value of header ``key``, or ``None``."""
        for name, value in self.headers:
            if name == key:
                return value
        return None

    def with_header(self, key: str, value: str) -> Frame:
        """A copy with ``key: value`` appended to the headers."""
        return replace(self, headers=(*self.headers, (key, value)))


def _to_message(frame: Frame) -> Any:
    msg = _FrameMessage(
        SeqID=frame.seq_id, LogID=frame.log_id, service=frame.service, method=frame.method
    )
    add = msg.headers.add
    for key, value in frame.headers:
        add(key=key, value=value)
    if frame.payload is not None:
        msg.payload = frame.payload
    if frame.payload_encoding is not None:
        msg.payload_encoding = frame.payload_encoding
    if frame.payload_type is not None:
        msg.payload_type = frame.payload_type
    if frame.log_id_new is not None:
        msg.LogIDNew = frame.log_id_new
    return msg


def encode(frame: Frame) -> bytes:
    """Serialise ``frame``; every required field is encoded, zeros included."""
    try:
        data: bytes = _to_message(frame).SerializeToString()
    except (EncodeError, ValueError, TypeError) as exc:
        raise FrameError(f"cannot encode frame: {type(exc).__name__}") from None
    return data


def encode_partial(**fields: Any) -> bytes:
    """Serialise a frame that may lack required fields (protobuf names: ``SeqID``, ...).

    Only for tests of strict peers: a conforming sender never produces such bytes.
    """
    headers = fields.pop("headers", ())
    msg = _FrameMessage(**fields)
    for key, value in headers:
        msg.headers.add(key=key, value=value)
    data: bytes = msg.SerializePartialToString()
    return data


def decode(data: bytes) -> Frame:
    """Parse one frame; :class:`FrameError` when it is not protobuf or lacks a required field."""
    try:
        msg = _FrameMessage.FromString(data)
    except (DecodeError, ValueError, TypeError, RuntimeError):
        raise FrameError("not a protobuf frame") from None
    if not msg.IsInitialized():
        missing = ", ".join(sorted(msg.FindInitializationErrors()))
        raise FrameError(f"frame lacks required fields: {missing}")
    has = msg.HasField
    # Positional arguments: by keyword, building the frame costs 7% more instructions per decode.
    return Frame(
        msg.SeqID,
        msg.LogID,
        msg.service,
        msg.method,
        tuple(map(_key_value, msg.headers)),
        msg.payload if has("payload") else None,
        msg.payload_encoding if has("payload_encoding") else None,
        msg.payload_type if has("payload_type") else None,
        msg.LogIDNew if has("LogIDNew") else None,
    )
