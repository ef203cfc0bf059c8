"""Framework-neutral request and response types that adapters translate to and from."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from . import _json
from .events._model import slot_constructor

__all__ = ["JSON_CONTENT_TYPE", "CaseInsensitiveHeaders", "Headers", "Request", "Response"]

JSON_CONTENT_TYPE = "application/json; charset=utf-8"
_JSON_HEADERS: tuple[tuple[str, str], ...] = (("Content-Type", JSON_CONTENT_TYPE),)
_MISSING: Any = object()


class Headers(Mapping[str, str]):
    """Read-only, case-insensitive header mapping.

    Frameworks hand header names over in different cases (WSGI upper-cases them, HTTP/2 lower-cases
    them); a lookup here never depends on the case and a missing header is ``None``, never a crash.
    When a name repeats, the first value wins.
    """

    __slots__ = ("_items",)

    def __init__(self, raw: Mapping[str, str] | Iterable[tuple[str, str]] | None = None) -> None:
        if raw is None:
            self._items: dict[str, str] = {}
            return
        if type(raw) is dict:  # the common case: one pass, no list of pairs
            items = {name.lower(): value for name, value in raw.items()}
            if len(items) == len(raw):
                self._items = items
                return
        pairs = list(raw.items() if isinstance(raw, Mapping) else raw)
        items = {name.lower(): value for name, value in pairs}
        if len(items) != len(pairs):
            # A name repeats (in any case): rebuild in reverse so that the first value is kept.
            items = {name.lower(): value for name, value in reversed(pairs)}
        self._items = items

    def get(self, key: str, default: Any = None) -> Any:
        # The core asks with lower-case names: one lookup, no lower() (names are stored lowered).
        items = self._items
        value = items.get(key, _MISSING)
        return items.get(key.lower(), default) if value is _MISSING else value

    def __getitem__(self, key: str) -> str:
        return self._items[key.lower()]

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and key.lower() in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        # Header values can hold signatures; names are enough to debug with.
        return f"Headers({sorted(self._items)!r})"


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


@dataclass(frozen=True, slots=True)
class Request:
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
        hdrs = headers if type(headers) is Headers else Headers(headers)
        if cls is Request:  # every request: fill the slots without the frozen __setattr__
            return _new_request(method.upper(), hdrs, body, path)
        return cls(method.upper(), hdrs, body, path)

    @property
    def request_id(self) -> str | None:
        """The platform's request id: ``X-Tt-Logid``, then ``X-Request-Id``."""
        get = self.headers.get
        value: str | None = get("x-tt-logid") or get("x-request-id")
        return value

    def __repr__(self) -> str:
        return f"Request(method={self.method!r}, path={self.path!r}, body=<{len(self.body)} bytes>)"


_new_request = slot_constructor(Request)


@dataclass(frozen=True, slots=True)
class Response:
    """What an adapter writes back: a status, JSON body bytes and headers."""

    status: int
    body: bytes
    headers: tuple[tuple[str, str], ...] = field(default=_JSON_HEADERS)

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
