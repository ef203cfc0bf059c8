"""The dispatcher's fixed responses, built once (PROTOCOL.md §7), and a callback's result as a
body (the builders themselves are in :mod:`.results`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable

from .http import Response

__all__ = [
    "BUSY",
    "EMPTY",
    "INTERNAL_ERROR",
    "STORE_UNAVAILABLE",
    "SUCCESS",
    "SupportsToDict",
    "result_to_body",
]

SUCCESS = Response(200, b'{"msg":"success"}')
#: An unhandled callback: nothing to change in what the user sees.
EMPTY = Response(200, b"{}")
INTERNAL_ERROR = Response(500, b'{"msg":"internal error"}')
STORE_UNAVAILABLE = Response(503, b'{"msg":"deduplication store unavailable, retry later"}')
BUSY = Response(503, b'{"msg":"busy, retry later"}')


@runtime_checkable
class SupportsToDict(Protocol):
    """Anything that turns itself into a JSON object."""

    def to_dict(self) -> dict[str, Any]:
        """The JSON object to answer with."""
        ...


def result_to_body(result: object) -> dict[str, Any]:
    """Turn a handler's return value into the callback's JSON object.

    ``None`` → ``{}``; a mapping is copied; a builder is asked for its dict. Anything else is a
    programming error (``TypeError``), answered as a handler failure.
    """
    # What isinstance(result, SupportsToDict) checks (a ``to_dict`` attribute that is not
    # None), without it: a runtime-checkable Protocol's isinstance costs 3-6 us, on every
    # callback's answer. A plain dict (the common case) has no ``to_dict``.
    if result is None:
        return {}
    if type(result) is dict:
        return dict(result)
    to_dict = getattr(result, "to_dict", None)
    if to_dict is not None:
        body: dict[str, Any] = to_dict()
        return body
    if isinstance(result, Mapping):
        return dict(result)
    raise TypeError(f"a callback handler returned {type(result).__name__}, not a dict or builder")
