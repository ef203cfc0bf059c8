"""Framework-neutral request and response types that adapters translate to and from."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import msgspec

from . import _json
from .signature import HEADER_NONCE, HEADER_SIGNATURE, HEADER_TIMESTAMP

__all__ = [
    "JSON_CONTENT_TYPE",
    "CaseInsensitiveHeaders",
    "Headers",
    "LarkHeaders",
    "Request",
    "Response",
]

JSON_CONTENT_TYPE = "application/json; charset=utf-8"
_JSON_HEADERS: tuple[tuple[str, str], ...] = (("Content-Type", JSON_CONTENT_TYPE),)
_MISSING: Any = object()

#: What :meth:`Headers.lark_headers` returns: signature, timestamp, nonce and request id.
LarkHeaders = tuple[str | None, str | None, str | None, str | None]


# The names the core looks up on every request, lower-case → as clients spell them.
_TITLED: dict[str, str] = {
    name.lower(): name
    for name in (HEADER_SIGNATURE, HEADER_TIMESTAMP, HEADER_NONCE, "X-Tt-Logid", "X-Request-Id")
}
_SIGNATURE = HEADER_SIGNATURE.lower()
_TIMESTAMP = HEADER_TIMESTAMP.lower()
_NONCE = HEADER_NONCE.lower()


class Headers(Mapping[str, str]):
    """Read-only, case-insensitive header mapping.

    Frameworks hand header names over in different cases (WSGI upper-cases them, HTTP/2 lower-cases
    them); a lookup here never depends on the case and a missing header is ``None``, never a crash.
    When a name repeats, the first value wins.
    """

    # ``_items`` holds the names lower-case, or, when ``_titled``, as given: all ASCII and in
    # title case ("X-Lark-Signature"), so that no two are the same but for case and a name is
    # found as ``name.lower().title()``. Names are not lower-cased one by one when all of them
    # are already lower-case or in title case: the core reads four headers of a dozen.
    __slots__ = ("_items", "_titled")

    def __init__(self, raw: Mapping[str, str] | Iterable[tuple[str, str]] | None = None) -> None:
        self._titled = False
        if raw is None:
            self._items: dict[str, str] = {}
            return
        pairs: list[tuple[str, str]] | None = None
        if type(raw) is dict:  # the common case: a copy, unless a name needs lower-casing
            items = raw
        else:
            pairs = list(raw.items() if isinstance(raw, Mapping) else raw)
            items = dict(pairs)  # ASGI's names are lower-case: no lower() for them
        # The names joined by NULs (uncased: each name is checked alone), as bytes: ``bytes``
        # checks case in ASCII, ``str`` through the Unicode tables, several times slower.
        try:
            joined = "\0".join(items).encode("ascii")
        except (TypeError, UnicodeEncodeError):  # not a str, or not ASCII: the general path
            joined = b""
        lower = joined.islower()
        if (lower or joined.istitle()) and (pairs is None or len(items) == len(pairs)):
            self._items = items.copy() if pairs is None else items
            self._titled = not lower
            return
        if pairs is None:
            pairs = list(items.items())
        items = {name.lower(): value for name, value in pairs}
        if len(items) != len(pairs):
            # A name repeats (in any case): rebuild in reverse so that the first value is kept.
            items = {name.lower(): value for name, value in reversed(pairs)}
        self._items = items

    def get(self, key: str, default: Any = None) -> Any:
        items = self._items
        if self._titled:
            name = _TITLED.get(key)
            if name is None:
                lowered = key.lower()
                if not lowered.isascii():
                    return default  # every name here is ASCII
                name = lowered.title()
            return items.get(name, default)
        # The core asks with lower-case names: one lookup, no lower() (names are stored lowered).
        value = items.get(key, _MISSING)
        return items.get(key.lower(), default) if value is _MISSING else value

    def __getitem__(self, key: str) -> str:
        value: str = self.get(key, _MISSING)
        if value is _MISSING:
            raise KeyError(key.lower())
        return value

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # A subclass that looks headers up its own way and does not say how to read the four
        # the core needs reads them through its get(): the fast path below reads _items.
        if "get" in cls.__dict__ and "lark_headers" not in cls.__dict__:
            cls.lark_headers = Headers.lark_headers_by_get  # type: ignore[method-assign]

    def lark_headers(self) -> LarkHeaders:
        """The signature, timestamp, nonce and request id (``X-Tt-Logid``, then
        ``X-Request-Id``) in one call: the headers the core reads on every request."""
        get = self._items.get
        if self._titled:
            return (
                get(HEADER_SIGNATURE),
                get(HEADER_TIMESTAMP),
                get(HEADER_NONCE),
                get("X-Tt-Logid") or get("X-Request-Id"),
            )
        return (
            get(_SIGNATURE),
            get(_TIMESTAMP),
            get(_NONCE),
            get("x-tt-logid") or get("x-request-id"),
        )

    def lark_headers_by_get(self) -> LarkHeaders:
        """:meth:`lark_headers` through :meth:`get`: what a subclass with its own ``get`` uses."""
        get = self.get
        return (
            get(_SIGNATURE),
            get(_TIMESTAMP),
            get(_NONCE),
            get("x-tt-logid") or get("x-request-id"),
        )

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self.get(key, _MISSING) is not _MISSING

    def __iter__(self) -> Iterator[str]:
        if self._titled:
            return (name.lower() for name in self._items)
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        # Header values can hold signatures; names are enough to debug with.
        return f"Headers({sorted(self)!r})"


class CaseInsensitiveHeaders(Headers):
    """A read-only view over a framework's own case-insensitive header mapping, not a copy.

    For mappings that already ignore case and return the first of repeated values (aiohttp's
    ``request.headers``, multidict's ``CIMultiDictProxy``): the core reads a handful of headers
    per request, so looking them up beats converting all of them.
    """

    __slots__ = ("_raw",)

    def __init__(self, raw: Mapping[str, str]) -> None:
        self._raw = raw

    def get(self, key: str, default: Any = None) -> Any:
        return self._raw.get(key, default)

    def lark_headers(self) -> LarkHeaders:
        """The four headers of :meth:`Headers.lark_headers`, from the framework's mapping."""
        get = self._raw.get
        return (
            get(_SIGNATURE),
            get(_TIMESTAMP),
            get(_NONCE),
            get("x-tt-logid") or get("x-request-id"),
        )

    def __getitem__(self, key: str) -> str:
        return self._raw[key]

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and key in self._raw

    def __iter__(self) -> Iterator[str]:
        return (name.lower() for name in self._raw)

    def __len__(self) -> int:
        return len(self._raw)

    def __repr__(self) -> str:
        return f"CaseInsensitiveHeaders({sorted(self)!r})"


# Frozen Structs, not dataclasses: the same fields, equality, hash and immutability, built in C
# (no dataclasses import, no generated code at import) and constructed without a __setattr__.
class Request(msgspec.Struct, frozen=True):
    """A raw HTTP request as the core sees it: no framework objects, body as received."""

    method: str
    headers: Headers
    body: bytes
    path: str = "/"

    @classmethod
    def build(
        cls,
        method: str,
        headers: Mapping[str, str] | Iterable[tuple[str, str]] | Headers | None,
        body: bytes,
        path: str = "/",
    ) -> Request:
        """Build a request from any header mapping or sequence of pairs."""
        # Any Headers is kept as it is: a view (CaseInsensitiveHeaders, a WSGI environ's) stays one.
        # A dict (the common case) is never one. Others are looked for in their class's MRO, not
        # by isinstance: Headers is a Mapping, and isinstance would take ABCMeta's Python-level
        # __instancecheck__ (three times the cost).
        kind = type(headers)
        if kind is not dict and Headers in kind.__mro__:
            return cls(method.upper(), headers, body, path)  # type: ignore[arg-type]
        return cls(method.upper(), Headers(headers), body, path)

    @property
    def request_id(self) -> str | None:
        """The platform's request id: ``X-Tt-Logid``, then ``X-Request-Id``."""
        return self.headers.lark_headers()[3]

    def __repr__(self) -> str:
        return f"Request(method={self.method!r}, path={self.path!r}, body=<{len(self.body)} bytes>)"


class Response(msgspec.Struct, frozen=True):
    """What an adapter writes back: a status, JSON body bytes and headers."""

    status: int
    body: bytes
    headers: tuple[tuple[str, str], ...] = _JSON_HEADERS

    @classmethod
    def json(cls, status: int, payload: Mapping[str, Any]) -> Response:
        """A JSON response with ``Content-Type: application/json; charset=utf-8``."""
        return cls(status=status, body=_json.dumps(payload))

    @property
    def content_type(self) -> str:
        """The ``Content-Type`` header's value."""
        return JSON_CONTENT_TYPE

    def json_body(self) -> Any:
        """The body, parsed."""
        return _json.loads(self.body)
