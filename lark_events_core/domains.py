"""The Open Platform's domains: one meaning of ``domain=`` / ``LARK_DOMAIN`` for every client.

``"feishu"`` (mainland China) and ``"lark"`` (international) name the two platforms; any other
value must be an ``http(s)://`` base URL (a proxy, or a fake platform in tests). The Open API
client, the long-connection client and ``lark-events forward`` all resolve it here.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from .errors import ConfigurationError

__all__ = ["FEISHU", "LARK", "resolve_domain"]

#: Feishu (mainland China).
FEISHU = "https://open.feishu.cn"
#: Lark (international).
LARK = "https://open.larksuite.com"

_NAMED = {"feishu": FEISHU, "lark": LARK, "larksuite": LARK}


def resolve_domain(value: str) -> str:
    """The base URL (no trailing ``/``) for ``"feishu"``, ``"lark"`` or an ``http(s)`` URL.

    Anything else is a :class:`~lark_events_core.ConfigurationError`, raised when the client is
    built rather than on every reconnect.
    """
    text = value.strip()
    named = _NAMED.get(text.lower())
    if named is not None:
        return named
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigurationError(
            f"the domain must be 'feishu', 'lark' or an http(s) URL such as {FEISHU!r}, "
            f"not {text[:80]!r}"
        )
    if parts.query or parts.fragment:
        raise ConfigurationError("the domain's base URL must not have a query or fragment")
    return text.rstrip("/")
